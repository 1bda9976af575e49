-- Parcels sent for an order (by a print lab or by the shop), merged by
-- (shipped_by, lab_shipment_id) or (carrier, tracking_number), never overwritten.
create table orders_shipment (
    id text primary key,
    order_id text not null references orders_order (id) on delete cascade,
    shipped_by text not null,
    lab_shipment_id text,
    carrier text not null,
    service text,
    tracking_number text not null,
    tracking_url text,
    shipped_at bigint not null,
    -- JSON array of order line ids.
    line_ids text not null,
    created_at bigint not null,
    updated_at bigint not null
);
create index orders_shipment_order on orders_shipment (order_id);
-- The print lab of each line, as it was at checkout (null: the shop ships it).
alter table orders_order_line add column lab text;
