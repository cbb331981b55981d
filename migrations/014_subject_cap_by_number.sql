-- The frequency cap's lookup (store/outbound.py CLAIM) finds a number's earlier
-- sends through outbound_msisdn_idx: one number has tens of rows, not millions.
-- The subject index of migration 011 cost every broadcast row a further index
-- entry on each of its three status updates (none of them can be HOT), for a
-- lookup that only capped recipients make.
DROP INDEX outbound_subject_sent_idx;
