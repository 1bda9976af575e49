-- At most one firing alert per rule: two evaluators running at once cannot
-- both start the same alert (the second insert fails and sends nothing).
create unique index ops_alert_one_firing on ops_alert (rule) where state = 'firing';
