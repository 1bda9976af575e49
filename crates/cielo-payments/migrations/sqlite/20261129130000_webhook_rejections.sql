-- Webhooks refused for their signature, counted per provider and minute
-- (one row a minute at most, however hard someone probes): a rise means
-- someone is probing the endpoint or the signing secret was rotated at the
-- provider and not here.
create table payment_webhook_rejection (
    provider text not null,
    -- unix minute
    minute bigint not null,
    count bigint not null,
    primary key (provider, minute)
);
