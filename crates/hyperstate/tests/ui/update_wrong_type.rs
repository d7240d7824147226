use hyperstate::Key;
use hyperstate::page::Page;

const CART: Key<Vec<String>> = Key::or_default("cart");

async fn add(page: &Page) {
    let _ = page.update(&CART, |items| items.len()).await;
}

fn main() {
    let _ = add;
}
