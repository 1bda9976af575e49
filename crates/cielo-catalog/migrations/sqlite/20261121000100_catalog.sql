-- The catalog: products, their variants (what is actually sold), nested
-- categories and images. Prices are integer minor units plus a currency.
create table catalog_product (
    id text primary key,
    handle text not null unique,
    title text not null,
    -- lower-cased title: SQLite's lower() only folds ASCII, so Rust folds it once
    title_search text not null,
    description text not null default '',
    status text not null check (status in ('draft', 'published')),
    product_type text not null default '',
    option_names text not null default '[]',
    -- cheapest variant, kept up to date on variant writes, for sorting by price
    min_price bigint not null default 0,
    created_at bigint not null,
    updated_at bigint not null
);
create index catalog_product_status_created on catalog_product (status, created_at, id);
create index catalog_product_status_price on catalog_product (status, min_price, id);

create table catalog_variant (
    id text primary key,
    product_id text not null references catalog_product (id) on delete cascade,
    sku text not null unique,
    title text not null,
    option_values text not null default '{}',
    price_amount bigint not null,
    price_currency text not null,
    stock bigint,
    stock_policy text not null default 'deny' check (stock_policy in ('deny', 'continue')),
    lab_product_id text,
    position bigint not null default 0,
    created_at bigint not null,
    updated_at bigint not null
);
create index catalog_variant_product on catalog_variant (product_id, position);

create table catalog_category (
    id text primary key,
    parent_id text references catalog_category (id) on delete cascade,
    handle text not null unique,
    name text not null,
    description text not null default '',
    position bigint not null default 0,
    created_at bigint not null,
    updated_at bigint not null
);

create table catalog_product_category (
    product_id text not null references catalog_product (id) on delete cascade,
    category_id text not null references catalog_category (id) on delete cascade,
    primary key (product_id, category_id)
);
create index catalog_product_category_category on catalog_product_category (category_id, product_id);

create table catalog_image (
    id text primary key,
    product_id text not null references catalog_product (id) on delete cascade,
    object_key text not null,
    url text not null,
    alt text not null default '',
    position bigint not null default 0,
    created_at bigint not null,
    updated_at bigint not null
);
create index catalog_image_product on catalog_image (product_id, position);
