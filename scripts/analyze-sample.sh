#!/usr/bin/env bash
# Main job: build Emovere (release) and analyse the bundled sample photo with the bundled model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product emovere
# The bundled default model, not one EMOVERE_MODEL names (--model in the arguments still chooses another).
env -u EMOVERE_MODEL .build/release/emovere analyze samples/astronaut.jpg "$@"
