-- 5xx answers of the API per minute (unix minutes), counted by every api
-- process, for the server-errors alert condition.
create table ops_server_error (
    minute bigint primary key,
    count bigint not null
);
