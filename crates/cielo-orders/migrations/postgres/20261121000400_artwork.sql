-- Print files produced for order lines (star-map posters), one per line.
-- The file lives in object storage; the row says where, what and how big.
create table orders_line_artwork (
    order_line_id text primary key,
    order_id text not null references orders_order (id) on delete cascade,
    object_key text not null,
    sha256 text not null,
    width_px bigint not null,
    height_px bigint not null,
    format text not null,
    created_at bigint not null,
    updated_at bigint not null
);
create index orders_line_artwork_order on orders_line_artwork (order_id);
