-- Which generation of Payscore's API an application's group was created with: `v1` screening
-- groups or `v2` applicant groups. A property can move from v1 to v2; its v1 groups keep being
-- checked and reported on the v1 routes to the end. Rows from before this migration are v1.
ALTER TABLE ledger_applications
    ADD COLUMN payscore_api text NOT NULL DEFAULT 'v1' CHECK (payscore_api IN ('v1', 'v2'));
