//! Fake lab servers (filled in below).
