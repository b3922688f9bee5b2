-- wappa's PostgreSQL schema, version 1: the chats, conversations and messages of the Wappa
-- echo example (with its enums), the outbound messages' states, and the status webhooks.

CREATE TYPE platform_t AS ENUM ('whatsapp', 'instagram', 'telegram');
CREATE TYPE conversation_status_t AS ENUM ('open', 'closing', 'closed');
CREATE TYPE message_actor_t AS ENUM ('user', 'agent', 'system', 'tool');
CREATE TYPE message_kind_t AS ENUM (
  'text', 'image', 'audio', 'video', 'document', 'sticker', 'contact', 'location', 'interactive',
  'button', 'reaction', 'order', 'system', 'unsupported');
-- Forward only: queued < sent < delivered < read < played; failed keeps its error.
CREATE TYPE delivery_status_t AS ENUM ('queued', 'sent', 'delivered', 'read', 'played', 'failed');
CREATE TYPE outbound_status_t AS ENUM (
  'queued', 'sending', 'unknown', 'sent', 'delivered', 'read', 'played', 'failed');

-- A user of one tenant on one platform: a phone number (wa_id) or Meta's business-scoped user id.
CREATE TABLE chats (
  chat_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant text NOT NULL,
  platform platform_t NOT NULL DEFAULT 'whatsapp',
  platform_user_id text NOT NULL,
  phone_e164 text,
  username text,
  first_name text,
  last_name text,
  is_blocked boolean NOT NULL DEFAULT false,
  last_inbound_at timestamptz,
  last_outbound_at timestamptz,
  last_conversation_summary text,
  profile jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT chats_one_per_user UNIQUE (tenant, platform, platform_user_id)
);

CREATE TABLE conversations (
  conversation_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  chat_id uuid NOT NULL REFERENCES chats (chat_id) ON DELETE CASCADE,
  status conversation_status_t NOT NULL DEFAULT 'open',
  started_at timestamptz NOT NULL DEFAULT now(),
  last_inbound_at timestamptz,
  last_activity_at timestamptz NOT NULL DEFAULT now(),
  closed_at timestamptz,
  conversation_summary text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT conversations_closed_at CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
-- At most one open conversation per chat.
CREATE UNIQUE INDEX conversations_one_open_per_chat ON conversations (chat_id) WHERE status = 'open';
CREATE INDEX conversations_by_chat ON conversations (chat_id, started_at DESC);

CREATE TABLE messages (
  message_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
  chat_id uuid NOT NULL REFERENCES chats (chat_id) ON DELETE CASCADE,
  actor message_actor_t NOT NULL,
  kind message_kind_t NOT NULL,
  platform platform_t NOT NULL DEFAULT 'whatsapp',
  platform_message_id text,          -- the wamid; NULL for a reply not sent yet
  platform_timestamp timestamptz,
  reply_to text,                     -- the wamid this message answers (context.id)
  text_content text,
  media_mime text,
  media_sha256 text,
  media_url text,                    -- the media id (or link) as the webhook gives it
  media_caption text,
  media_description text,            -- a document's file name
  media_transcript text,
  json_content jsonb NOT NULL DEFAULT '{}',  -- contacts, location, interactive, reaction, ...
  delivery_status delivery_status_t,  -- our messages: how far they got
  error_code integer,
  error_message text,
  outbound_message_id text,          -- our messages: the outbound queue's message id
  created_at timestamptz NOT NULL DEFAULT now(),
  -- A platform message is stored once, however often it is delivered to us.
  CONSTRAINT messages_one_per_platform_message UNIQUE (platform, platform_message_id)
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at);
CREATE INDEX messages_by_chat ON messages (chat_id, created_at);
CREATE INDEX messages_by_outbound_id ON messages (outbound_message_id) WHERE outbound_message_id IS NOT NULL;

-- Every message sent through the outbound queue. Message ids are per tenant.
CREATE TABLE outbound_messages (
  tenant text NOT NULL,
  message_id text NOT NULL,
  to_number text NOT NULL,
  type text NOT NULL,
  payload jsonb,
  status outbound_status_t NOT NULL DEFAULT 'queued',
  attempts integer NOT NULL DEFAULT 0,
  wamid text,
  last_error_code integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  delivered_at timestamptz,
  read_at timestamptz,
  failed_at timestamptz,
  PRIMARY KEY (tenant, message_id)
);
CREATE UNIQUE INDEX outbound_messages_by_wamid ON outbound_messages (wamid) WHERE wamid IS NOT NULL;
CREATE INDEX outbound_messages_by_status ON outbound_messages (tenant, status);

-- Every status webhook about our messages, once per wamid and status: the history, and the
-- statuses that came before we knew the wamid (applied when it becomes known).
CREATE TABLE status_events (
  wamid text NOT NULL,
  status text NOT NULL,
  tenant text NOT NULL,
  recipient text,
  occurred_at timestamptz,
  error_code integer,
  error_title text,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (wamid, status)
);

-- How far a delivery status is: a status only ever moves up. "failed" (a delivery failure)
-- replaces queued, sent and delivered, not read or played.
CREATE FUNCTION delivery_rank(s text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE s WHEN 'queued' THEN 0 WHEN 'sending' THEN 0 WHEN 'unknown' THEN 0 WHEN 'sent' THEN 1
                WHEN 'delivered' THEN 2 WHEN 'failed' THEN 3 WHEN 'read' THEN 4 WHEN 'played' THEN 5 ELSE -1 END
$$;
