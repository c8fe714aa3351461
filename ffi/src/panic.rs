//! The panic boundary every export runs behind, and the test-only hook
//! that forces a panic inside it.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::set_message;
use crate::status::{FfiError, Status, ZARRCORE_E_INVALID_ARGUMENT, ZARRCORE_E_PANIC, ZARRCORE_OK};

thread_local! {
    static FORCE_PANIC: Cell<bool> = const { Cell::new(false) };
}

fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

/// Runs `f` as the body of the export `func`: a returned error sets this
/// thread's message and gives its code; a panic becomes `ZARRCORE_E_PANIC`
/// and never unwinds into the caller.
pub(crate) fn guard(func: &'static str, f: impl FnOnce() -> Result<(), FfiError>) -> Status {
    let r = catch_unwind(AssertUnwindSafe(|| {
        if FORCE_PANIC.try_with(|c| c.replace(false)).unwrap_or(false) {
            panic!("forced by zarrcore_test_force_panic");
        }
        f()
    }));
    match r {
        Ok(Ok(())) => ZARRCORE_OK,
        Ok(Err(e)) => {
            set_message(format!("{func}: {}", e.message));
            e.status
        }
        Err(payload) => {
            set_message(format!(
                "{func}: panic inside zarrcore (a bug; please report it): {}",
                payload_message(&*payload)
            ));
            // Dropping a payload can itself panic; contain that too.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            ZARRCORE_E_PANIC
        }
    }
}

/// **For tests only.** With `armed` 1, the next call on this thread of any
/// function that returns a `zarrcore_status` (other than this one and
/// `zarrcore_error_message`) panics inside the library; the panic is caught
/// at the boundary and that call returns `ZARRCORE_E_PANIC` with a message
/// saying so. With `armed` 0 the hook is disarmed. Other threads are not
/// affected. Applications never need this function.
///
/// Returns `ZARRCORE_OK`, or `ZARRCORE_E_INVALID_ARGUMENT` if `armed` is
/// neither 0 nor 1.
///
/// Threads: any thread; the hook is per thread.
#[no_mangle]
pub extern "C" fn zarrcore_test_force_panic(armed: i32) -> Status {
    let r = catch_unwind(|| match armed {
        0 | 1 => {
            let _ = FORCE_PANIC.try_with(|c| c.set(armed == 1));
            ZARRCORE_OK
        }
        other => {
            set_message(format!(
                "zarrcore_test_force_panic: argument `armed` is {other}; expected 0 or 1"
            ));
            ZARRCORE_E_INVALID_ARGUMENT
        }
    });
    r.unwrap_or(ZARRCORE_E_PANIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_codes() {
        assert_eq!(guard("t", || Ok(())), ZARRCORE_OK);
        assert_eq!(
            guard("t", || Err(FfiError::invalid("x", "bad"))),
            ZARRCORE_E_INVALID_ARGUMENT
        );
        assert_eq!(guard("t", || panic!("boom")), ZARRCORE_E_PANIC);
        assert_eq!(zarrcore_test_force_panic(1), ZARRCORE_OK);
        assert_eq!(guard("t", || Ok(())), ZARRCORE_E_PANIC);
        // One-shot.
        assert_eq!(guard("t", || Ok(())), ZARRCORE_OK);
        assert_eq!(zarrcore_test_force_panic(2), ZARRCORE_E_INVALID_ARGUMENT);
    }
}
