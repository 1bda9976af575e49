-- How a variant reaches its buyer: 'physical' (a lab or the shop ships it)
-- or 'digital' (the buyer downloads its print files; no lab, no parcel).
alter table catalog_variant add column delivery text not null default 'physical';
