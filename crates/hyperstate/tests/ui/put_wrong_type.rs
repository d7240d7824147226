use hyperstate::Key;
use hyperstate::page::Page;
use hyperstate::session::SessionView;

const THEME: Key<String> = Key::new("theme", || "light".to_owned());

async fn page_put(page: &Page) {
    let _ = page.put(&THEME, &42u32).await;
}

async fn session_put(view: &SessionView) {
    let _ = view.write().put(&THEME, &true).commit().await;
}

fn main() {
    let _ = (page_put, session_put);
}
