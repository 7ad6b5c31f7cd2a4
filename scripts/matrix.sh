#!/usr/bin/env bash
# `just matrix`: the integration suite against OpenSSL 1.1.1w, the newest
# 3.5.x (the LTS with ML-DSA) and the newest 4.0.x, built from the sources
# the openssl-src crates carry, and against the system's openssl. Builds are cached under target/matrix (a minute or a few
# each on two cores); later runs reuse them.
#
#   scripts/matrix.sh            build what is missing, then test all four
#   scripts/matrix.sh build      only build
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD/target/matrix"
mkdir -p "$root"
jobs=$(nproc 2>/dev/null || echo 2)

# The sources: a throwaway package that depends on both crates, so that cargo
# fetches them from crates.io; `cargo vendor` unpacks them.
fetch="$root/fetch"
# A cache made before 3.5 joined lacks its source: fetched again.
if [ -d "$root/vendor" ] && ! ls -d "$root"/vendor/openssl-src-300.5.* > /dev/null 2>&1; then
    rm -rf "$root/vendor"
fi
if [ ! -d "$root/vendor" ]; then
    mkdir -p "$fetch/src"
    echo 'fn main() {}' > "$fetch/src/main.rs"
    cat > "$fetch/Cargo.toml" <<'TOML'
[package]
name = "pkiforge-matrix-sources"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
openssl-src-111 = { package = "openssl-src", version = "=111.28.2" }
openssl-src-305 = { package = "openssl-src", version = "~300.5" }
openssl-src-400 = { package = "openssl-src", version = "400" }
TOML
    cargo vendor --quiet --versioned-dirs --manifest-path "$fetch/Cargo.toml" "$root/vendor.tmp" > /dev/null
    mv "$root/vendor.tmp" "$root/vendor"
fi

# build NAME SOURCE-DIR [CONFIGURE-OPTIONS…]: the openssl program, static,
# with its OPENSSLDIR under target/matrix/NAME/ssl holding our config.
build() {
    local name=$1 src=$2
    shift 2
    local prefix="$root/$name"
    # A cached build is reused only if it was configured as asked now.
    if [ -x "$prefix/bin/openssl" ] && [ "$(cat "$prefix/options" 2>/dev/null)" = "$*" ]; then
        return
    fi
    rm -rf "$prefix"
    echo "matrix: building OpenSSL $name (no-shared) from $(basename "$src")"
    rm -rf "$root/build-$name"
    cp -r "$src/openssl" "$root/build-$name"
    (
        cd "$root/build-$name"
        chmod +x Configure config 2>/dev/null || true
        ./Configure linux-x86_64 no-shared no-tests "$@" --prefix="$prefix" --openssldir="$prefix/ssl" > "$root/build-$name.log" 2>&1
        make -j"$jobs" build_programs >> "$root/build-$name.log" 2>&1
    ) || { tail -30 "$root/build-$name.log"; exit 1; }
    mkdir -p "$prefix/bin" "$prefix/ssl"
    cp "$root/build-$name/apps/openssl" "$prefix/bin/openssl"
    echo "$*" > "$prefix/options"
    rm -rf "$root/build-$name"
}

src111=$(ls -d "$root"/vendor/openssl-src-111.* | head -1)
src305=$(ls -d "$root"/vendor/openssl-src-300.5.* | sort -V | tail -1)
src400=$(ls -d "$root"/vendor/openssl-src-400.* | sort -V | tail -1)
build 1.1.1 "$src111"
# no-module: the providers (legacy PKCS#12's among them) built in, as the
# binary is copied out of its build tree.
build 4.0 "$src400" no-module
# As 4.0: the legacy provider built in, so that legacy PKCS#12 works.
build 3.5 "$src305" no-module
# The config is the repository's, as it is now, also for cached builds.
for name in 1.1.1 3.5 4.0; do
    cp tests/matrix/openssl.cnf "$root/$name/ssl/openssl.cnf"
done

[ "${1:-}" = build ] && exit 0

# MATRIX_SYSTEM=0 leaves out the system's openssl (CI has just tested it).
binaries=("$root/1.1.1/bin/openssl")
[ "${MATRIX_SYSTEM:-1}" = 0 ] || binaries+=("$(command -v openssl)")
binaries+=("$root/3.5/bin/openssl" "$root/4.0/bin/openssl")
status=0
for openssl in "${binaries[@]}"; do
    echo "matrix: $("$openssl" version) ($openssl)"
    if ! PKIFORGE_TEST_OPENSSL="$openssl" cargo test --quiet --locked --no-fail-fast; then
        echo "matrix: FAILED with $("$openssl" version)"
        status=1
    fi
done
exit $status
