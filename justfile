# pkiforge recipes. Install just with `cargo install just` or `pip install rust-just`.
# `just --list` shows them all.

# The profile used when none is named: the tutorial's.
default_profile := "profiles/localhost.toml"

# The PKI that `just renew`, `just revoke` and `just crl` work on:
# `just dir=pki/room revoke alice`.
dir := "pki/localhost"

# List the recipes.
default:
    @just --list

# Make the PKI of a profile (default: the tutorial's) in pki/<profile name>/.
run profile=default_profile *flags:
    cargo run --quiet --release -- run {{profile}} {{flags}}

# The tutorial's CA section only (then `just server`, `just client`).
ca profile=default_profile:
    cargo run --quiet --release -- run {{profile}} --only ca

# The tutorial's server section, with the CA `just ca` made.
server profile=default_profile:
    cargo run --quiet --release -- run {{profile}} --only server

# The tutorial's client section, with the CA `just ca` made.
client profile=default_profile:
    cargo run --quiet --release -- run {{profile}} --only client

# The whole tutorial, pausing before each step.
step profile=default_profile:
    cargo run --quiet --release -- run {{profile}} --step

# Print the commands a run would execute.
plan profile=default_profile *flags:
    cargo run --quiet --release -- plan {{profile}} {{flags}}

# Check a PKI made by `just run` with openssl verify.
verify dir="pki/localhost":
    cargo run --quiet --release -- verify {{dir}}

# Real mutual-TLS handshakes with openssl and rustls.
handshake dir="pki/localhost":
    cargo run --quiet --release -- handshake {{dir}}

# Every certificate: subject, issuer, SANs, key, validity, fingerprint, extensions.
inspect dir="pki/localhost":
    cargo run --quiet --release -- inspect {{dir}}

# What real clients will refuse or warn about.
lint dir="pki/localhost" *flags:
    cargo run --quiet --release -- lint {{dir}} {{flags}}

# When each certificate and the CRL expire; exit 1 when something needs doing.
status dir="pki/localhost" *flags:
    cargo run --quiet --release -- status {{dir}} {{flags}}

# The workshop page (DIR/report.html), opened in a browser when there is one.
report dir="pki/localhost":
    cargo run --quiet --release -- report {{dir}}
    @if command -v xdg-open >/dev/null 2>&1 && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then xdg-open {{dir}}/report.html; elif command -v open >/dev/null 2>&1 && [ "$(uname)" = Darwin ]; then open {{dir}}/report.html; else echo "open {{dir}}/report.html in a browser"; fi

# The README's picture of the report: the localhost PKI's page, by headless Chromium.
screenshot dir="pki/localhost" png="docs/report-localhost.png":
    cargo run --quiet --release -- report {{dir}}
    mkdir -p "$(dirname {{png}})"
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,900 --screenshot={{png}} "file://$(realpath {{dir}})/report.html"

# Issue certificates again: `just renew server client`, `just renew ca`.
renew +names:
    cargo run --quiet --release -- renew {{dir}} {{names}}

# Revoke an entity's certificate and write the CRL: `just revoke alice`.
revoke name:
    cargo run --quiet --release -- revoke {{dir}} {{name}}

# Issue the CRL again before it goes stale.
crl:
    cargo run --quiet --release -- crl {{dir}}

# The test suite (against the real openssl).
test *args:
    cargo test {{args}}

# Measure the parallel runner against its lower bound (takes a few minutes).
bench *args:
    cargo bench --bench parallel -- {{args}}
    cargo bench --bench handshake
    cargo bench --bench room

# A room of 1,000 participants: E of the run, run --add of one more, the report in Chromium.
bench-room *args:
    cargo bench --bench room -- {{args}}

# handshake of a room of 256 clients, --jobs 1 against the cores.
bench-handshake *args:
    cargo bench --bench handshake -- {{args}}

# The test suite against OpenSSL 1.1.1w, the system's, 3.5.x and 4.0.x (builds them once).
matrix *args:
    scripts/matrix.sh {{args}}

# What CI checks first: formatting, clippy with warnings as errors, the tests
# (CI, .ci/run, then runs `just matrix` too).
ci:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings
    cargo test

# Remove the PKIs made by `just run` (pki/) and the build output.
clean:
    rm -rf pki
    cargo clean
