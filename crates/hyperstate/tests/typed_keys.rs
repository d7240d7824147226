//! A typed key reads and writes exactly its type: anything else does not
//! compile. Each file under `tests/ui/` must fail to build with the error
//! recorded beside it (regenerate with `TRYBUILD=overwrite` after a deliberate
//! change of the message).

#[test]
fn wrong_types_do_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
