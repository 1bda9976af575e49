-- Accounts: customers and admins (one table, a role column), their sessions
-- and address books. Emails are stored lower-cased so uniqueness ignores case.
create table accounts_customer (
    id text primary key,
    email text not null unique,
    name text not null default '',
    password_hash text not null,
    role text not null check (role in ('customer', 'admin')),
    created_at bigint not null,
    updated_at bigint not null
);

-- Only a SHA-256 of each session token is stored: a leaked table reveals no
-- usable token. Logout deletes the row; a password change deletes the others.
create table accounts_session (
    id text primary key,
    customer_id text not null references accounts_customer (id) on delete cascade,
    token_hash text not null unique,
    created_at bigint not null,
    expires_at bigint not null,
    updated_at bigint not null
);
create index accounts_session_customer on accounts_session (customer_id);

create table accounts_address (
    id text primary key,
    customer_id text not null references accounts_customer (id) on delete cascade,
    address text not null,
    is_default bigint not null default 0,
    created_at bigint not null,
    updated_at bigint not null
);
create index accounts_address_customer on accounts_address (customer_id, created_at);
