-- The print lab that makes a variant: 'local', 'printful', 'prodigi', or
-- null when the shop ships it itself.
alter table catalog_variant add column lab text;
