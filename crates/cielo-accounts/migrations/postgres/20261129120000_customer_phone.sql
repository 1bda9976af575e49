-- A customer's mobile number in E.164 (`+34600123456`), for SMS; null when
-- none was given.
alter table accounts_customer add column phone text;
