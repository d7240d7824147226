//! The HTTP benchmark's baseline answers what the demo answers: for the same
//! form and the same item count, the same status, content type and bytes.

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use common::Browser;
use hyperstate_axum::{HttpConfig, Hyperstate};
use hyperstate_demo::bare::ITEMS_HEADER;

fn bare_post(form: &str, items: usize) -> Request<Body> {
    Request::post("/cart/items")
        .header(ITEMS_HEADER, items.to_string())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn bare_cart_answers_the_demo_reply_byte_for_byte() {
    let state = Hyperstate::builder()
        .config(HttpConfig::default().secure_cookie(false))
        .without_sessions()
        .build()
        .unwrap();
    let demo = Browser::new(hyperstate_demo::router(&state));
    let bare = Browser::new(hyperstate_demo::bare::router());
    // The benchmark's form, one that needs trimming and escaping, and a refused one.
    for form in ["name=x", "name=%20a%3Cb%3E%26%20", "name=%20%20"] {
        let page = demo.load("/cart").await.page_id().unwrap();
        for items in 1..=4 {
            let ours = demo.htmx_post("/cart/items", &page, form).await;
            let reference = bare.send(bare_post(form, items)).await;
            assert_eq!(ours.status, reference.status, "{form}");
            assert_eq!(
                ours.headers.get(header::CONTENT_TYPE),
                reference.headers.get(header::CONTENT_TYPE),
                "{form}"
            );
            assert_eq!(ours.body, reference.body, "{form}, {items} items");
        }
    }
}
