use hyperstate::Key;
use hyperstate::room::Snapshot;

const VOTES: Key<u32> = Key::or_default("votes");

fn read(snapshot: &Snapshot) -> hyperstate::Result<String> {
    let votes: String = snapshot.get(&VOTES)?;
    Ok(votes)
}

fn main() {
    let _ = read;
}
