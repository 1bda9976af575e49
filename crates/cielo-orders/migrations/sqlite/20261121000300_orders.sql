-- Carts, orders and checkout idempotency. Variant, product and customer ids
-- point into other domains and so carry no foreign keys; an order keeps a
-- snapshot of what was bought, at what price, shipped where.
create table orders_cart (
    id text primary key,
    customer_id text,
    currency text not null,
    email text,
    status text not null check (status in ('open', 'completed')),
    order_id text,
    created_at bigint not null,
    updated_at bigint not null
);
create index orders_cart_customer on orders_cart (customer_id, updated_at);

create table orders_cart_line (
    id text primary key,
    cart_id text not null references orders_cart (id) on delete cascade,
    variant_id text not null,
    quantity bigint not null check (quantity > 0),
    -- canonical JSON of the per-line options ('' when none): adding the same
    -- variant with the same options raises the quantity instead of a new line
    options text not null default '',
    created_at bigint not null,
    updated_at bigint not null
);
create index orders_cart_line_cart on orders_cart_line (cart_id, created_at);

create table orders_order (
    id text primary key,
    cart_id text not null unique,
    customer_id text,
    email text not null,
    status text not null,
    currency text not null,
    subtotal_minor bigint not null,
    shipping_minor bigint not null,
    tax_minor bigint not null,
    total_minor bigint not null,
    shipping_address text not null,
    access_token_hash text not null,
    payment_provider text,
    payment_session_id text,
    payment_url text,
    payment_expires_at bigint,
    created_at bigint not null,
    updated_at bigint not null
);
create index orders_order_customer on orders_order (customer_id, created_at);
create index orders_order_created on orders_order (created_at, id);
create index orders_order_status on orders_order (status, created_at);
create index orders_order_email on orders_order (email, created_at);

create table orders_order_line (
    id text primary key,
    order_id text not null references orders_order (id) on delete cascade,
    position bigint not null,
    variant_id text not null,
    product_id text not null,
    product_title text not null,
    variant_title text not null,
    sku text not null,
    product_type text not null,
    lab_product_id text,
    unit_price_minor bigint not null,
    quantity bigint not null,
    line_total_minor bigint not null,
    options text,
    created_at bigint not null,
    updated_at bigint not null
);
create index orders_order_line_order on orders_order_line (order_id, position);

-- Every status change, with its cause (checkout, an event id, a job, an admin).
create table orders_order_history (
    id text primary key,
    order_id text not null references orders_order (id) on delete cascade,
    from_status text,
    to_status text not null,
    cause text not null,
    at bigint not null
);
create index orders_order_history_order on orders_order_history (order_id, at);

-- Checkout idempotency: one row per (cart, key). `secret` is the guest access
-- token, kept so that a replay answers exactly as the first response did.
create table orders_idempotency (
    scope text not null,
    idem_key text not null,
    request_hash text not null,
    order_id text,
    secret text,
    response text,
    created_at bigint not null,
    updated_at bigint not null,
    primary key (scope, idem_key)
);
