-- Executor fencing: who may call Meta for a partition, and whether an intent was sent.

-- One row per (topic, partition) the executor consumes: the owner epoch, bumped by every instance
-- that is assigned the partition. A Meta call is allowed only while the caller's epoch is the
-- current one, checked under FOR SHARE in the transaction that marks the intent sent, so an
-- instance that lost the partition can no longer send for it (the new owner's bump waits for, or
-- wins against, that transaction).
CREATE TABLE executor_partition_epochs (
    topic      text        NOT NULL,
    partition  integer     NOT NULL CHECK (partition >= 0),
    epoch      bigint      NOT NULL CHECK (epoch >= 1),
    owner      text        NOT NULL,   -- an instance id (host:pid:random), never a person
    claimed_at timestamptz NOT NULL,   -- executor clock
    PRIMARY KEY (topic, partition)
);

-- An intent is 'sent' once its owner, holding the current epoch, decided to call Meta. Never sent:
-- the next owner decides it again as if fresh. Sent: the next owner only reconciles it with Meta.
ALTER TABLE ad_change_history
    ADD COLUMN sent_at        timestamptz,
    ADD COLUMN sent_topic     text,
    ADD COLUMN sent_partition integer,
    ADD COLUMN sent_epoch     bigint;

-- Intents left by executors that predate fencing may have been sent: reconcile them, never resend.
UPDATE ad_change_history SET sent_at = applied_at WHERE status = 'executing';
