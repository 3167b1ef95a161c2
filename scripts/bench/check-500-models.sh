#!/usr/bin/env bash
# Times compiling a generated 500-model schema against merely parsing it; prints the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo bench -p plinth-cli --bench check_500_models "$@"
