"""The database schema, as an ordered list of migrations.

Append new migrations; never edit one that has shipped. Each runs in its own
transaction at server start, and ``PRAGMA user_version`` records the last one.
"""

from __future__ import annotations

from .db import Migration

MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "settings: server-wide key/value settings",
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at INTEGER NOT NULL DEFAULT (strftime('%s','now'))
        );
        """,
    ),
]

MIGRATIONS.append(
    Migration(
        2,
        "accounts: users, personal API tokens, audit log",
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'user', 'viewer')),
            password_hash TEXT NOT NULL,
            must_change_password INTEGER NOT NULL DEFAULT 0,
            token_version INTEGER NOT NULL DEFAULT 1,
            created_at INTEGER NOT NULL DEFAULT (strftime('%s','now')),
            updated_at INTEGER NOT NULL DEFAULT (strftime('%s','now'))
        );
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL DEFAULT (strftime('%s','now')),
            last_used_at INTEGER,
            revoked_at INTEGER
        );
        CREATE INDEX api_tokens_user ON api_tokens(user_id);
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL DEFAULT (strftime('%s','now')),
            actor TEXT,
            action TEXT NOT NULL,
            target TEXT,
            remote TEXT,
            ok INTEGER NOT NULL DEFAULT 1,
            detail TEXT
        );
        CREATE INDEX audit_log_at ON audit_log(at);
        """,
    )
)

MIGRATIONS.append(
    Migration(
        3,
        "gallery: index of output and input media, full-text search over prompts, trash",
        """
        CREATE TABLE media (
            id INTEGER PRIMARY KEY,
            root TEXT NOT NULL CHECK (root IN ('output', 'input')),
            subfolder TEXT NOT NULL,
            filename TEXT NOT NULL,
            kind TEXT NOT NULL,
            hidden INTEGER NOT NULL DEFAULT 0,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            mtime_ns INTEGER NOT NULL,
            width INTEGER,
            height INTEGER,
            prompt_id TEXT,
            has_prompt INTEGER NOT NULL DEFAULT 0,
            model TEXT COLLATE NOCASE,
            positive TEXT,
            negative TEXT,
            seed INTEGER,
            summary TEXT,
            UNIQUE (root, subfolder, filename)
        );
        CREATE INDEX media_root_mtime ON media(root, mtime DESC, id DESC);
        CREATE INDEX media_folder_mtime ON media(root, subfolder, mtime DESC, id DESC);
        CREATE INDEX media_folder_name ON media(root, subfolder, filename COLLATE NOCASE);
        CREATE INDEX media_model ON media(root, model, mtime DESC);
        CREATE INDEX media_prompt_id ON media(prompt_id);
        CREATE VIRTUAL TABLE media_fts USING fts5(
            positive, negative, model, content='media', content_rowid='id', tokenize='unicode61'
        );
        CREATE TRIGGER media_fts_insert AFTER INSERT ON media BEGIN
            INSERT INTO media_fts(rowid, positive, negative, model)
            VALUES (new.id, new.positive, new.negative, new.model);
        END;
        CREATE TRIGGER media_fts_delete AFTER DELETE ON media BEGIN
            INSERT INTO media_fts(media_fts, rowid, positive, negative, model)
            VALUES ('delete', old.id, old.positive, old.negative, old.model);
        END;
        CREATE TRIGGER media_fts_update AFTER UPDATE OF positive, negative, model ON media BEGIN
            INSERT INTO media_fts(media_fts, rowid, positive, negative, model)
            VALUES ('delete', old.id, old.positive, old.negative, old.model);
            INSERT INTO media_fts(rowid, positive, negative, model)
            VALUES (new.id, new.positive, new.negative, new.model);
        END;
        CREATE TABLE media_dirs (
            root TEXT NOT NULL,
            path TEXT NOT NULL,
            parent TEXT NOT NULL,
            name TEXT NOT NULL,
            hidden INTEGER NOT NULL DEFAULT 0,
            mtime REAL NOT NULL,
            PRIMARY KEY (root, path)
        );
        CREATE INDEX media_dirs_parent ON media_dirs(root, parent, name COLLATE NOCASE);
        CREATE TABLE trash (
            id TEXT PRIMARY KEY,
            batch TEXT NOT NULL,
            root TEXT NOT NULL,
            subfolder TEXT NOT NULL,
            filename TEXT NOT NULL,
            stored TEXT NOT NULL,
            size INTEGER NOT NULL,
            deleted_at REAL NOT NULL,
            deleted_by TEXT
        );
        CREATE INDEX trash_batch ON trash(batch);
        CREATE INDEX trash_deleted_at ON trash(deleted_at);
        """,
    )
)

MIGRATIONS.append(
    Migration(
        4,
        "gallery: search over positive prompt and model only, kept by CozyGen (per-row triggers were slow); "
        "per-folder counts for instant totals",
        """
        DROP TRIGGER media_fts_insert;
        DROP TRIGGER media_fts_delete;
        DROP TRIGGER media_fts_update;
        DROP TABLE media_fts;
        DROP INDEX media_folder_name;
        DROP INDEX media_prompt_id;
        CREATE VIRTUAL TABLE media_fts USING fts5(
            positive, model, content='media', content_rowid='id', tokenize='unicode61'
        );
        INSERT INTO media_fts(media_fts) VALUES ('rebuild');
        CREATE TABLE media_counts (
            root TEXT NOT NULL,
            subfolder TEXT NOT NULL,
            kind TEXT NOT NULL,
            hidden INTEGER NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (root, subfolder, kind, hidden)
        ) WITHOUT ROWID;
        INSERT INTO media_counts SELECT root, subfolder, kind, hidden, COUNT(*) FROM media GROUP BY 1, 2, 3, 4;
        CREATE TRIGGER media_count_insert AFTER INSERT ON media BEGIN
            INSERT INTO media_counts VALUES (new.root, new.subfolder, new.kind, new.hidden, 1)
            ON CONFLICT (root, subfolder, kind, hidden) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER media_count_delete AFTER DELETE ON media BEGIN
            UPDATE media_counts SET n = n - 1
            WHERE root = old.root AND subfolder = old.subfolder AND kind = old.kind AND hidden = old.hidden;
        END;
        CREATE TRIGGER media_count_update AFTER UPDATE OF root, subfolder, kind, hidden ON media BEGIN
            UPDATE media_counts SET n = n - 1
            WHERE root = old.root AND subfolder = old.subfolder AND kind = old.kind AND hidden = old.hidden;
            INSERT INTO media_counts VALUES (new.root, new.subfolder, new.kind, new.hidden, 1)
            ON CONFLICT (root, subfolder, kind, hidden) DO UPDATE SET n = n + 1;
        END;
        """,
    )
)

MIGRATIONS.append(
    Migration(
        5,
        "workflows: per-user presets, and small JSON documents (aliases, workflow types)",
        """
        CREATE TABLE presets (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            workflow TEXT NOT NULL,
            name TEXT NOT NULL,
            preset_values TEXT NOT NULL,
            created INTEGER NOT NULL,
            updated INTEGER NOT NULL,
            UNIQUE (username, workflow, name COLLATE NOCASE)
        );
        CREATE INDEX presets_user_workflow ON presets(username, workflow, updated DESC);
        CREATE TABLE documents (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at INTEGER NOT NULL DEFAULT (strftime('%s','now'))
        );
        """,
    )
)

MIGRATIONS.append(
    Migration(
        6,
        "jobs: every generation CozyGen queues on ComfyUI, with its parameters, graph, progress and outputs",
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            prompt_id TEXT NOT NULL UNIQUE,
            workflow TEXT,
            username TEXT,
            session_id TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'interrupted')),
            values_json TEXT NOT NULL DEFAULT '{}',
            params_json TEXT NOT NULL DEFAULT '{}',
            graph_json TEXT NOT NULL DEFAULT '{}',
            node TEXT,
            step INTEGER NOT NULL DEFAULT 0,
            total_steps INTEGER NOT NULL DEFAULT 0,
            images_json TEXT NOT NULL DEFAULT '[]',
            error TEXT,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL
        );
        CREATE INDEX jobs_created ON jobs(created_at DESC, id DESC);
        CREATE INDEX jobs_status_created ON jobs(status, created_at DESC, id DESC);
        CREATE INDEX jobs_user_created ON jobs(username, created_at DESC, id DESC);
        CREATE INDEX jobs_session_created ON jobs(session_id, created_at DESC, id DESC);
        """,
    )
)

MIGRATIONS.append(
    Migration(
        7,
        "jobs: the model used, reproductions, and re-queueing after ComfyUI lost a job",
        """
        ALTER TABLE jobs ADD COLUMN model TEXT;
        ALTER TABLE jobs ADD COLUMN reproduced_from TEXT;
        ALTER TABLE jobs ADD COLUMN requeued INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE jobs ADD COLUMN orphaned INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX jobs_workflow_created ON jobs(workflow, created_at DESC, id DESC);
        CREATE INDEX jobs_model_created ON jobs(model, created_at DESC, id DESC);
        CREATE INDEX jobs_finished ON jobs(finished_at);
        """,
    )
)

MIGRATIONS.append(
    Migration(
        8,
        "jobs: the ComfyUI prompts of a job of several images (one prompt per image)",
        """
        ALTER TABLE jobs ADD COLUMN prompt_ids_json TEXT NOT NULL DEFAULT '[]';
        """,
    )
)

MIGRATIONS.append(
    Migration(
        9,
        "sessions: a user's named groups of jobs",
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            name TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX sessions_user_created ON sessions(username, created_at DESC, id DESC);
        """,
    )
)

MIGRATIONS.append(
    Migration(
        10,
        "job_prompts: every ComfyUI prompt of a job, whose it is (outputs belong to users through it), and the "
        "graph of each prompt after the first",
        """
        CREATE TABLE job_prompts (
            prompt_id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL,
            username TEXT,
            graph_json TEXT
        );
        CREATE INDEX job_prompts_job ON job_prompts(job_id);
        CREATE INDEX job_prompts_user ON job_prompts(username);
        INSERT OR IGNORE INTO job_prompts (prompt_id, job_id, username) SELECT prompt_id, id, username FROM jobs;
        INSERT OR IGNORE INTO job_prompts (prompt_id, job_id, username)
            SELECT p.value, j.id, j.username FROM jobs j, json_each(j.prompt_ids_json) p;
        CREATE TRIGGER job_prompts_insert AFTER INSERT ON jobs BEGIN
            INSERT OR IGNORE INTO job_prompts (prompt_id, job_id, username)
                VALUES (NEW.prompt_id, NEW.id, NEW.username);
            INSERT OR IGNORE INTO job_prompts (prompt_id, job_id, username)
                SELECT value, NEW.id, NEW.username FROM json_each(NEW.prompt_ids_json);
        END;
        CREATE TRIGGER job_prompts_requeue AFTER UPDATE OF prompt_id, prompt_ids_json ON jobs BEGIN
            INSERT OR IGNORE INTO job_prompts (prompt_id, job_id, username)
                VALUES (NEW.prompt_id, NEW.id, NEW.username);
            INSERT OR IGNORE INTO job_prompts (prompt_id, job_id, username)
                SELECT value, NEW.id, NEW.username FROM json_each(NEW.prompt_ids_json);
        END;
        CREATE TRIGGER job_prompts_delete AFTER DELETE ON jobs BEGIN
            DELETE FROM job_prompts WHERE job_id = OLD.id;
        END;
        """,
    )
)

MIGRATIONS.append(
    Migration(
        11,
        "workflow_owners: who saved each workflow in the data folder (they and admins may change it; a file "
        "without a row, saved before owners were kept or with auth off, is shared: admins only)",
        """
        CREATE TABLE workflow_owners (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            username TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX workflow_owners_user ON workflow_owners(username);
        """,
    )
)

MIGRATIONS.append(
    Migration(
        12,
        "input_owners: who put each file into ComfyUI's input folder through CozyGen or ComfyUI's uploads (with "
        "per_user visibility, a user who is not an admin sees the input files that are theirs or nobody's)",
        """
        CREATE TABLE input_owners (
            subfolder TEXT NOT NULL,
            filename TEXT NOT NULL,
            username TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (subfolder, filename)
        );
        CREATE INDEX input_owners_user ON input_owners(username);
        """,
    )
)

MIGRATIONS.append(
    Migration(
        13,
        "prompt_raw: the prompts a client typed before expanding its $alias$ tokens (seed 004's prompt_raw), per "
        "prompt id and user ('' with auth off); a map is deleted with its job's prompt (core/jobs/prompt_raw.py)",
        """
        CREATE TABLE prompt_raw (
            prompt_id TEXT NOT NULL,
            username TEXT NOT NULL,
            raw_json TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (prompt_id, username)
        );
        CREATE INDEX prompt_raw_user ON prompt_raw(username, created_at);
        CREATE TRIGGER prompt_raw_follows_job AFTER DELETE ON job_prompts BEGIN
            DELETE FROM prompt_raw WHERE prompt_id = OLD.prompt_id;
        END;
        """,
    )
)

MIGRATIONS.append(
    Migration(
        14,
        "push_subscriptions and push_prefs: Web Push subscriptions per user and browser (an endpoint is one "
        "browser: it moves to whoever subscribed last there) and whether a user is told of jobs done and failed; "
        "both go with their user (core/push/subscriptions.py)",
        """
        CREATE TABLE push_subscriptions (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL COLLATE NOCASE,
            endpoint TEXT NOT NULL UNIQUE,
            p256dh TEXT NOT NULL,
            auth TEXT NOT NULL,
            device TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL
        );
        CREATE INDEX push_subscriptions_user ON push_subscriptions(username);
        CREATE TABLE push_prefs (
            username TEXT PRIMARY KEY COLLATE NOCASE,
            on_done INTEGER NOT NULL DEFAULT 1,
            on_failed INTEGER NOT NULL DEFAULT 1,
            updated_at REAL NOT NULL
        );
        CREATE TRIGGER push_follows_user AFTER DELETE ON users BEGIN
            DELETE FROM push_subscriptions WHERE username = OLD.username;
            DELETE FROM push_prefs WHERE username = OLD.username;
        END;
        """,
    )
)

MIGRATIONS.append(
    Migration(
        15,
        "job_series: a job run N times or until stopped, one job after the other (core/jobs/repeat.py): its "
        "request, how many ran and completed, the job now queued, its status and why it ended; a deleted user's "
        "running series stop",
        """
        CREATE TABLE job_series (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL COLLATE NOCASE,
            workflow TEXT NOT NULL,
            values_json TEXT NOT NULL,
            num_images INTEGER NOT NULL,
            session_id TEXT,
            times INTEGER,
            submitted INTEGER NOT NULL DEFAULT 0,
            completed INTEGER NOT NULL DEFAULT 0,
            current_job TEXT,
            status TEXT NOT NULL CHECK (status IN ('running', 'stopped', 'done', 'failed')),
            reason TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX job_series_user ON job_series(username, created_at);
        CREATE INDEX job_series_job ON job_series(current_job);
        CREATE INDEX job_series_status ON job_series(status);
        CREATE TRIGGER job_series_follow_user AFTER DELETE ON users BEGIN
            UPDATE job_series SET status = 'stopped', reason = 'its owner was deleted'
            WHERE username = OLD.username AND status = 'running';
        END;
        """,
    )
)

MIGRATIONS.append(
    Migration(
        16,
        "jobs.outputs_json: the output nodes whose images are a job's results (App mode's chosen outputs; '[]' all)",
        """
        ALTER TABLE jobs ADD COLUMN outputs_json TEXT NOT NULL DEFAULT '[]';
        """,
    )
)

# Adds the inserted row's numbers to its folder's mark counts (migration 17's triggers: +1 for a mark, -1 gone).
_ADD_TO_MARK_COUNTS = """ON CONFLICT (username, root, subfolder, kind, hidden) DO UPDATE SET
                favourite = favourite + excluded.favourite, rejected = rejected + excluded.rejected,
                r1 = r1 + excluded.r1, r2 = r2 + excluded.r2, r3 = r3 + excluded.r3, r4 = r4 + excluded.r4,
                r5 = r5 + excluded.r5;"""

MIGRATIONS.append(
    Migration(
        17,
        "marks: each user's favourite, reject and 1-5 rating of an indexed file (keyed by its id, so they follow "
        "renames and moves; they go with the file and with the user; with the file's mtime, kept by a trigger, so "
        "a user's favourites, rejects or one rating are listed newest first from an index), and their per-folder "
        "counts for instant totals; media.created (when first indexed, from its mtime) and media.animated (NULL: "
        "not looked at yet); the marks a trashed file had; listing indexes for every sort and filter that hold the "
        "columns the filters and sorts read (a filtered scan reads no table row it does not return)",
        f"""
        CREATE TABLE marks (
            username TEXT NOT NULL COLLATE NOCASE,
            media_id INTEGER NOT NULL,
            favourite INTEGER NOT NULL DEFAULT 0 CHECK (favourite IN (0, 1)),
            rejected INTEGER NOT NULL DEFAULT 0 CHECK (rejected IN (0, 1)),
            rating INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
            updated_at REAL NOT NULL,
            mtime REAL NOT NULL DEFAULT 0,
            CHECK (NOT (favourite AND rejected)),
            PRIMARY KEY (username, media_id)
        ) WITHOUT ROWID;
        CREATE INDEX marks_media ON marks(media_id);
        CREATE INDEX marks_favourite ON marks(username, favourite, mtime DESC, media_id DESC, rejected, rating);
        CREATE INDEX marks_rejected ON marks(username, rejected, mtime DESC, media_id DESC, favourite, rating);
        CREATE INDEX marks_rating ON marks(username, rating, mtime DESC, media_id DESC, favourite, rejected);
        CREATE TABLE mark_counts (
            username TEXT NOT NULL COLLATE NOCASE,
            root TEXT NOT NULL,
            subfolder TEXT NOT NULL,
            kind TEXT NOT NULL,
            hidden INTEGER NOT NULL,
            favourite INTEGER NOT NULL,
            rejected INTEGER NOT NULL,
            r1 INTEGER NOT NULL,
            r2 INTEGER NOT NULL,
            r3 INTEGER NOT NULL,
            r4 INTEGER NOT NULL,
            r5 INTEGER NOT NULL,
            PRIMARY KEY (username, root, subfolder, kind, hidden)
        ) WITHOUT ROWID;
        CREATE TRIGGER mark_counts_insert AFTER INSERT ON marks BEGIN
            INSERT INTO mark_counts
            SELECT NEW.username, m.root, m.subfolder, m.kind, m.hidden, NEW.favourite, NEW.rejected,
                NEW.rating = 1, NEW.rating = 2, NEW.rating = 3, NEW.rating = 4, NEW.rating = 5
            FROM media m WHERE m.id = NEW.media_id
            {_ADD_TO_MARK_COUNTS}
        END;
        CREATE TRIGGER mark_counts_delete AFTER DELETE ON marks BEGIN
            INSERT INTO mark_counts
            SELECT OLD.username, m.root, m.subfolder, m.kind, m.hidden, -OLD.favourite, -OLD.rejected,
                -(OLD.rating = 1), -(OLD.rating = 2), -(OLD.rating = 3), -(OLD.rating = 4), -(OLD.rating = 5)
            FROM media m WHERE m.id = OLD.media_id
            {_ADD_TO_MARK_COUNTS}
        END;
        CREATE TRIGGER mark_counts_update AFTER UPDATE OF favourite, rejected, rating ON marks BEGIN
            INSERT INTO mark_counts
            SELECT NEW.username, m.root, m.subfolder, m.kind, m.hidden,
                NEW.favourite - OLD.favourite, NEW.rejected - OLD.rejected,
                (NEW.rating = 1) - (OLD.rating = 1), (NEW.rating = 2) - (OLD.rating = 2),
                (NEW.rating = 3) - (OLD.rating = 3), (NEW.rating = 4) - (OLD.rating = 4),
                (NEW.rating = 5) - (OLD.rating = 5)
            FROM media m WHERE m.id = NEW.media_id
            {_ADD_TO_MARK_COUNTS}
        END;
        CREATE TRIGGER marks_follow_media BEFORE DELETE ON media BEGIN
            DELETE FROM marks WHERE media_id = OLD.id;
        END;
        CREATE TRIGGER marks_follow_mtime AFTER UPDATE OF mtime ON media WHEN NEW.mtime IS NOT OLD.mtime BEGIN
            UPDATE marks SET mtime = NEW.mtime WHERE media_id = NEW.id;
        END;
        CREATE TRIGGER mark_counts_follow_media AFTER UPDATE OF root, subfolder, kind, hidden ON media
        WHEN EXISTS (SELECT 1 FROM marks WHERE media_id = NEW.id) BEGIN
            INSERT INTO mark_counts
            SELECT k.username, OLD.root, OLD.subfolder, OLD.kind, OLD.hidden, -k.favourite, -k.rejected,
                -(k.rating = 1), -(k.rating = 2), -(k.rating = 3), -(k.rating = 4), -(k.rating = 5)
            FROM marks k WHERE k.media_id = NEW.id
            {_ADD_TO_MARK_COUNTS}
            INSERT INTO mark_counts
            SELECT k.username, NEW.root, NEW.subfolder, NEW.kind, NEW.hidden, k.favourite, k.rejected,
                k.rating = 1, k.rating = 2, k.rating = 3, k.rating = 4, k.rating = 5
            FROM marks k WHERE k.media_id = NEW.id
            {_ADD_TO_MARK_COUNTS}
        END;
        CREATE TRIGGER marks_follow_user AFTER DELETE ON users BEGIN
            DELETE FROM marks WHERE username = OLD.username;
        END;
        ALTER TABLE media ADD COLUMN created REAL NOT NULL DEFAULT 0;
        UPDATE media SET created = mtime;
        ALTER TABLE media ADD COLUMN animated INTEGER;
        UPDATE media SET animated = 0 WHERE NOT (lower(filename) LIKE '%.gif' OR lower(filename) LIKE '%.webp');
        ALTER TABLE trash ADD COLUMN marks_json TEXT;
        DROP INDEX IF EXISTS media_root_mtime;
        DROP INDEX IF EXISTS media_folder_mtime;
        DROP INDEX IF EXISTS media_model;
        CREATE INDEX media_root_mtime
            ON media(root, mtime DESC, id DESC, hidden, created, size, filename COLLATE NOCASE);
        CREATE INDEX media_folder_mtime
            ON media(root, subfolder, mtime DESC, id DESC, hidden, created, size, filename COLLATE NOCASE);
        CREATE INDEX media_model
            ON media(root, model, mtime DESC, id DESC, hidden, created, size, filename COLLATE NOCASE);
        CREATE INDEX media_root_created ON media(root, created DESC, id DESC, hidden, mtime);
        CREATE INDEX media_folder_created ON media(root, subfolder, created DESC, id DESC, hidden, mtime);
        CREATE INDEX media_root_name ON media(root, filename COLLATE NOCASE, id, hidden, mtime);
        CREATE INDEX media_folder_name ON media(root, subfolder, filename COLLATE NOCASE, id, hidden, mtime);
        CREATE INDEX media_root_size
            ON media(root, size DESC, id DESC, hidden, mtime, created, filename COLLATE NOCASE);
        CREATE INDEX media_folder_size
            ON media(root, subfolder, size DESC, id DESC, hidden, mtime, created, filename COLLATE NOCASE);
        CREATE INDEX media_kind ON media(root, kind, animated, hidden, mtime, created, size, filename COLLATE NOCASE);
        """,
    )
)

MIGRATIONS.append(
    Migration(
        18,
        "models: the download queue and its history (one queued or running download per target), the sources an "
        "admin recorded for model files, the cached SHA-256 of installed models (by path, size and mtime_ns), and "
        "the model trash",
        """
        CREATE TABLE downloads (
            id TEXT PRIMARY KEY,
            folder TEXT NOT NULL,
            name TEXT NOT NULL,
            source_json TEXT NOT NULL,
            sha256_expected TEXT,
            sha256 TEXT,
            size INTEGER,
            total INTEGER,
            done INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
            error TEXT,
            code TEXT,
            warning TEXT,
            created_by TEXT,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL
        );
        CREATE INDEX downloads_state ON downloads(state, created_at);
        CREATE INDEX downloads_created ON downloads(created_at DESC, id DESC);
        CREATE INDEX downloads_target ON downloads(folder, name, created_at DESC);
        CREATE UNIQUE INDEX downloads_active ON downloads(folder, name) WHERE state IN ('queued', 'running');
        CREATE TABLE model_sources (
            folder TEXT NOT NULL,
            name TEXT NOT NULL,
            source_json TEXT NOT NULL,
            sha256 TEXT,
            recorded_by TEXT,
            recorded_at REAL NOT NULL,
            PRIMARY KEY (folder, name)
        ) WITHOUT ROWID;
        CREATE TABLE model_hashes (
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            hashed_at REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE model_trash (
            id TEXT PRIMARY KEY,
            folder TEXT NOT NULL,
            name TEXT NOT NULL,
            stored TEXT NOT NULL,
            size INTEGER,
            deleted_by TEXT,
            deleted_at REAL NOT NULL
        );
        CREATE INDEX model_trash_deleted ON model_trash(deleted_at DESC);
        """,
    )
)

MIGRATIONS.append(
    Migration(
        19,
        "profiles: connections to other servers, in Spoon Feeder's sense. provider 'comfyui' is a backend (another "
        "ComfyUI that runs CozyGen's jobs: auth, enabled, max concurrent jobs, tags, the output subfolder its files "
        "land in); other providers are LLM profiles (the prompt assistant's). secret is a token, password or API key "
        "and never leaves the server. profile_models: the models a profile lists (Spoon Feeder's). jobs.backend: the "
        "backend a job was sent to (NULL: this ComfyUI)",
        """
        CREATE TABLE profiles (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            provider TEXT NOT NULL,
            type TEXT NOT NULL DEFAULT 'image',
            description TEXT NOT NULL DEFAULT '',
            url TEXT,
            auth_kind TEXT NOT NULL DEFAULT 'none' CHECK (auth_kind IN ('none', 'bearer', 'basic')),
            auth_user TEXT,
            secret TEXT,
            enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
            max_jobs INTEGER NOT NULL DEFAULT 1 CHECK (max_jobs >= 1),
            tags_json TEXT NOT NULL DEFAULT '[]',
            subfolder TEXT,
            is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
            options_json TEXT NOT NULL DEFAULT '{}',
            prompt_template TEXT,
            input_modalities_json TEXT NOT NULL DEFAULT '["text"]',
            output_modalities_json TEXT NOT NULL DEFAULT '["image"]',
            created_by TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE UNIQUE INDEX profiles_backend_name ON profiles(name COLLATE NOCASE) WHERE provider = 'comfyui';
        CREATE INDEX profiles_provider ON profiles(provider, created_at);
        CREATE TABLE profile_models (
            id TEXT PRIMARY KEY,
            profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
            model_id TEXT NOT NULL,
            name TEXT NOT NULL,
            created_at REAL NOT NULL,
            UNIQUE (profile_id, model_id)
        );
        ALTER TABLE jobs ADD COLUMN backend TEXT;
        CREATE INDEX jobs_backend_active ON jobs(backend, status) WHERE backend IS NOT NULL
            AND status IN ('pending', 'running');
        """,
    )
)

MIGRATIONS.append(
    Migration(
        20,
        "job_prompts.backend: the backend each prompt of a job was sent to (a job of several images may be split "
        "across backends, and a prompt re-routed when its backend goes down); NULL: as jobs.backend",
        """
        ALTER TABLE job_prompts ADD COLUMN backend TEXT;
        """,
    )
)

MIGRATIONS.append(
    Migration(
        21,
        "media_vocab: the search index's terms (an fts5vocab table over media_fts, no data of its own): a search word "
        "that is the prefix of a few terms is searched as those terms (core/gallery/query.py vocabulary)",
        """
        CREATE VIRTUAL TABLE media_vocab USING fts5vocab('media_fts', 'row');
        """,
    )
)

MIGRATIONS.append(
    Migration(
        22,
        "jobs.pinned: the job was pinned to its backend (by its request or its workflow): re-attached after a "
        "restart or caught by a failover, it stays there (waits for it, or fails with the reason)",
        """
        ALTER TABLE jobs ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
        """,
    )
)

MIGRATIONS.append(
    Migration(
        23,
        "job_series.backend: the backend a series' jobs are pinned to (its request's, as a single job's); NULL: "
        "routed like any job (or by the workflow's pin)",
        """
        ALTER TABLE job_series ADD COLUMN backend TEXT;
        """,
    )
)

MIGRATIONS.append(
    Migration(
        24,
        "job_prompts.held: CozyGen holds the prompt (every backend able to run it holds its max_jobs of CozyGen's "
        "prompts); it was sent nowhere yet. A restart holds it again (core/backends/holding.py)",
        """
        ALTER TABLE job_prompts ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
        """,
    )
)

MIGRATIONS.append(
    Migration(
        25,
        "assistant_messages: each user's conversation with the prompt assistant (core/assistant/conversation.py): "
        "role user or assistant, content the message's JSON, actions the tool calls it made (set_field, "
        "insert_tags, queue with the jobs a confirm queued); trimmed to the newest 50 or 64 KB at each write",
        """
        CREATE TABLE assistant_messages (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content_json TEXT NOT NULL,
            actions_json TEXT NOT NULL DEFAULT '[]',
            size INTEGER NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX assistant_messages_user ON assistant_messages(username, id);
        """,
    )
)
