//! The ACL: both caller classes, all four rights, allowed and denied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hyperstate::Error;
use hyperstate::room::{
    Acl, CallerClass, Principal, Right, Rights, Room, RoomInit, RoomKey, RoomOptions, Rooms,
};

use super::{Factory, fresh_name, member, public};

/// A registry whose spec gives each room the ACL the case registered for it,
/// and the state `{"k": 1}`.
fn acl_rooms(make: &dyn Factory) -> (Rooms, Arc<Mutex<HashMap<RoomKey, Acl>>>) {
    let acls: Arc<Mutex<HashMap<RoomKey, Acl>>> = Arc::default();
    let table = acls.clone();
    let rooms = Rooms::new(make(RoomOptions::default()), move |key: &RoomKey| {
        let acl = table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
            .unwrap_or_default();
        RoomInit::new().acl(acl).value("k", &1)
    });
    (rooms, acls)
}

/// Performs the operation that needs `right` as `who`; `Ok` with whether it
/// took effect, or the error.
async fn exercise(room: &Room, who: &Principal, right: Right) -> Result<(), Error> {
    match right {
        Right::Read => {
            let value: i32 = room.get_or(who, "k", 0).await?;
            assert_eq!(value, 1);
            room.snapshot(who).await?;
            room.attach(who, None).await.map(drop)
        }
        Right::Write => {
            room.put(who, "k", &2).await?;
            assert_eq!(room.update_or(who, "k", 0, |n: i32| n + 1).await?, 3);
            Ok(())
        }
        Right::Delete => {
            assert!(room.delete(who, "k").await?, "delete found nothing");
            Ok(())
        }
        Right::Reset => room.reset(who).await.map(drop),
        _ => unreachable!("a right this suite does not know"),
    }
}

/// 2 caller classes × 4 rights × allowed / denied: 16 outcomes, each asserted.
///
/// Allowed: the caller's class holds only that right, the other class every
/// other one. Denied: the caller's class holds every other right, the other
/// class only that one. So a wrong class lookup fails the case either way.
pub async fn acl_matrix(make: &dyn Factory) {
    let (rooms, acls) = acl_rooms(make);
    for class in [CallerClass::Member, CallerClass::Public] {
        for right in Right::ALL {
            for allowed in [true, false] {
                let case = format!("{class:?} {right} allowed={allowed}");
                let only = Rights::from(right);
                let others = Rights::from_bits(Rights::ALL.bits() & !only.bits());
                let (mine, theirs) = if allowed {
                    (only, others)
                } else {
                    (others, only)
                };
                let acl = match class {
                    CallerClass::Member => Acl::new(mine, theirs),
                    CallerClass::Public => Acl::new(theirs, mine),
                };
                let room = rooms.room(&fresh_name()).unwrap();
                acls.lock().unwrap().insert(room.key().clone(), acl);
                let who = match class {
                    CallerClass::Member => {
                        let who = Principal::app(fresh_name());
                        room.join(&who).await.unwrap();
                        who
                    }
                    CallerClass::Public => public(),
                };
                let access = room.access(&who).await.unwrap();
                assert_eq!(access.class, class, "{case}");
                assert_eq!(access.allows(right), allowed, "{case}");
                match (exercise(&room, &who, right).await, allowed) {
                    (Ok(()), true) => {}
                    (
                        Err(Error::AccessDenied {
                            class: c,
                            right: r,
                            room: name,
                        }),
                        false,
                    ) => {
                        assert_eq!((c, r), (class, right), "{case}");
                        assert_eq!(name, room.key().as_str(), "{case}");
                    }
                    (outcome, _) => panic!("{case}: unexpected outcome {outcome:?}"),
                }
            }
        }
    }
}

pub async fn denied_operations_change_nothing(make: &dyn Factory) {
    let (rooms, _) = acl_rooms(make); // default ACL: members all, public read
    let room = rooms.room(&fresh_name()).unwrap();
    // A stored room (a read alone stores nothing and reports the clock).
    let _owner = member(&room).await;
    let stranger = public();
    let before = room.snapshot(&stranger).await.unwrap();
    for right in [Right::Write, Right::Delete, Right::Reset] {
        let err = exercise(&room, &stranger, right).await.unwrap_err();
        assert!(
            matches!(err, Error::AccessDenied { .. }),
            "{right}: {err:?}"
        );
        assert!(err.kind().is_client_error());
    }
    assert_eq!(room.snapshot(&stranger).await.unwrap(), before);
}

pub async fn members_can_leave(make: &dyn Factory) {
    let (rooms, _) = acl_rooms(make);
    let room = rooms.room(&fresh_name()).unwrap();
    let who = Principal::Browser(hyperstate::BrowserId::generate());
    assert!(room.join(&who).await.unwrap());
    assert!(
        !room.join(&who).await.unwrap(),
        "joining twice changed something"
    );
    room.put(&who, "k", &5).await.unwrap();
    assert!(room.leave(&who).await.unwrap());
    assert!(!room.leave(&who).await.unwrap());
    let err = room.put(&who, "k", &6).await.unwrap_err();
    assert!(matches!(
        err,
        Error::AccessDenied {
            class: CallerClass::Public,
            ..
        }
    ));
    assert_eq!(room.get_or(&who, "k", 0).await.unwrap(), 5);
}

pub async fn a_reset_that_revokes_read_ends_the_stream(make: &dyn Factory) {
    let (rooms, acls) = acl_rooms(make);
    let room = rooms.room(&fresh_name()).unwrap();
    let admin = Principal::app(fresh_name());
    room.join(&admin).await.unwrap();
    let reader = public();
    let mut sub = room.attach(&reader, None).await.unwrap();
    // The spec now closes the room to the public; a reset applies it.
    acls.lock()
        .unwrap()
        .insert(room.key().clone(), Acl::new(Rights::ALL, Rights::NONE));
    room.reset(&admin).await.unwrap();
    loop {
        match tokio::time::timeout(super::DELIVERY, sub.next()).await {
            Ok(Some(Ok(hyperstate::room::RoomEvent::Diff(diff)))) => {
                panic!("a reader without the read right was sent {diff:?}")
            }
            Ok(Some(Ok(_))) => continue, // the snapshot and presence from before
            Ok(Some(Err(Error::AccessDenied {
                right: Right::Read, ..
            }))) => break,
            other => panic!("expected the stream to be denied, got {other:?}"),
        }
    }
}
