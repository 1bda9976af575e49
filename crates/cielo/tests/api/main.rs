//! Black-box API tests: each spawns the real application on a random port
//! with a fresh database (SQLite by default; PostgreSQL when
//! `CIELO_TEST_DATABASE_URL=postgres://…`) and talks to it over HTTP.

mod abuse;
mod accounts;
mod artwork;
mod bounces;
mod carts;
mod catalog;
mod downloads;
mod edge;
mod fake_mail;
mod helpers;
mod hygiene;
mod jobs;
mod lifecycle;
mod notify;
mod ops;
mod orders;
mod pages;
mod payments;
mod saved_cards;
mod shipping;
mod starmap;
mod stripe;
mod wording;
