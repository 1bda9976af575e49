-- How the buyer wants to hear about the order: the language of messages,
-- an E.164 mobile number and whether SMS are welcome.
alter table orders_order add column language text;
alter table orders_order add column phone text;
alter table orders_order add column sms_opt_in bigint not null default 0;

-- More tokens that let a guest read an order (the links in the shop's
-- messages), besides the one returned at checkout. Hashes only.
create table orders_access_link (
    token_hash text primary key,
    order_id text not null references orders_order (id),
    created_at bigint not null
);
create index orders_access_link_order on orders_access_link (order_id);
