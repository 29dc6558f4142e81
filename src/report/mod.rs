//! Text for people: the pieces several commands' terminal summaries (and some files'
//! attributes) share.
//!
//! * [`mod@format`] — numbers, vectors and matrices as compact text;
//! * [`stability`] — stability verdicts in words (the consensus step (43), Theorem 2);
//! * [`coalition_values`] — the static TU game of `[game.values]` described.

pub mod coalition_values;
pub mod format;
pub mod stability;
