-- The payment provider's customer for each shop account, one per (account,
-- provider): the key that makes lazy creation happen once even when two
-- first checkouts of one account race. The account id is the accounts
-- domain's; nothing here reads its tables.
create table payments_customer (
    account_id text not null,
    provider text not null,
    -- the provider's id (`cus_…`)
    customer_id text not null,
    created_at bigint not null,
    primary key (account_id, provider)
);

-- The built-in test provider's own customers, as Stripe keeps them: the
-- idempotency key makes a repeated create return the same customer.
create table payments_test_customer (
    id text primary key,
    idempotency_key text not null unique,
    account_id text not null,
    email text not null,
    created bigint not null
);

-- The test provider's checkout sessions opened for a customer (sessions of
-- guests have no row): the payment page offers saving a card only here.
create table payments_test_session (
    id text primary key,
    customer_id text not null,
    created bigint not null
);

-- Cards saved on the test payment page: brand, last four digits and expiry
-- only, as a provider shows them. One per paid session at most.
create table payments_test_card (
    id text primary key,
    customer_id text not null,
    brand text not null,
    last4 text not null,
    exp_month bigint not null,
    exp_year bigint not null,
    created bigint not null
);
create index payments_test_card_customer on payments_test_card (customer_id, created);
