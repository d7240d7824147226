# shellcheck shell=bash
# cargo_target_dir: where cargo puts build output for this workspace (honours
# CARGO_TARGET_DIR and .cargo/config), for scripts that run the binaries they build.
cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}
