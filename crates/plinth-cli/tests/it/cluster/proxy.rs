//! A TCP proxy between the Plinth nodes and PostgreSQL that the test can cut, freeze and
//! restore, to show what a node does when its database goes away and comes back.

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Forwards every connection.
    Open,
    /// Closes every connection at once and refuses new ones (accepted, then closed): what a
    /// crashed or stopped database looks like to a client.
    Cut,
    /// Forwards nothing and answers nothing, holding connections open: a network partition or
    /// a hung host, where only the client's own timeouts help.
    Frozen,
}

/// The mode and how many times traffic was interrupted: a connection ends when the count
/// moves, even if the mode is back to `Open` before it looks.
#[derive(Clone, Copy, Debug)]
struct State {
    mode: Mode,
    interruptions: u64,
}

/// Forwards loopback connections to the real PostgreSQL. Dropping it stops the accept loop and
/// closes every connection.
pub struct DatabaseProxy {
    pub address: SocketAddr,
    state: watch::Sender<State>,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl DatabaseProxy {
    /// Listens on a free loopback port. `upstream` is `host:port` of the real server.
    pub async fn start(upstream: String) -> DatabaseProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the database proxy binds a loopback port");
        let address = listener
            .local_addr()
            .expect("the database proxy has an address");
        let (state, _) = watch::channel(State {
            mode: Mode::Open,
            interruptions: 0,
        });
        let accept_loop = {
            let state = state.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    let mut changes = state.subscribe();
                    let upstream = upstream.clone();
                    tokio::spawn(async move {
                        let started = *changes.borrow_and_update();
                        match started.mode {
                            Mode::Cut => return,
                            Mode::Frozen => {
                                // Hold the connection unanswered until the freeze ends.
                                let _ = changes.wait_for(|now| now.mode != Mode::Frozen).await;
                                return;
                            }
                            Mode::Open => {}
                        }
                        forward(client, &upstream, changes, started.interruptions).await;
                    });
                }
            })
        };
        DatabaseProxy {
            address,
            state,
            accept_loop,
        }
    }

    fn set(&self, mode: Mode) {
        self.state.send_modify(|state| {
            if mode != Mode::Open {
                state.interruptions += 1;
            }
            state.mode = mode;
        });
    }

    /// Closes every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.set(Mode::Cut);
    }

    /// Stops forwarding: every connection, open or new, hangs unanswered.
    pub fn freeze(&self) {
        self.set(Mode::Frozen);
    }

    /// Lets new connections through again; connections held by a freeze are closed.
    pub fn restore(&self) {
        self.set(Mode::Open);
    }
}

/// Copies both ways until either side closes or traffic is interrupted; when frozen, holds
/// both sockets silent until the freeze ends, then closes them.
async fn forward(
    mut client: TcpStream,
    upstream: &str,
    mut changes: watch::Receiver<State>,
    interruptions: u64,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let interrupted = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => None,
        now = changes.wait_for(|now| now.interruptions != interruptions) => now.ok().map(|now| now.mode),
    };
    if interrupted == Some(Mode::Frozen) {
        let _ = changes.wait_for(|now| now.mode != Mode::Frozen).await;
    }
    // Both sockets close here.
}

impl Drop for DatabaseProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept_loop.abort();
    }
}
