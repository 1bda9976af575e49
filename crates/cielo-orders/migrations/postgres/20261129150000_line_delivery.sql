-- How a line reaches its buyer, as at checkout: 'physical' (shipped) or
-- 'digital' (the buyer downloads its print files).
alter table orders_order_line add column delivery text not null default 'physical';
