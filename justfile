# pkiforge recipes. Install just with `cargo install just` or `pip install rust-just`.
# `just --list` shows them all.

# The profile used when none is named: the tutorial's.
default_profile := "profiles/localhost.toml"

# List the recipes.
default:
    @just --list

# Make the PKI of a profile (default: the tutorial's) in pki/<profile name>/.
run profile=default_profile *flags:
    cargo run --quiet --release -- run {{profile}} {{flags}}

# Print the commands a run would execute.
plan profile=default_profile *flags:
    cargo run --quiet --release -- plan {{profile}} {{flags}}

# Check a PKI made by `just run` with openssl verify.
verify dir="pki/localhost":
    cargo run --quiet --release -- verify {{dir}}

# The test suite (against the real openssl).
test *args:
    cargo test {{args}}

# What CI checks: formatting, clippy with warnings as errors, the tests.
ci:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings
    cargo test

# Remove the PKIs made by `just run` (pki/) and the build output.
clean:
    rm -rf pki
    cargo clean
