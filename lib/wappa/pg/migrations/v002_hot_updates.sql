-- wappa's PostgreSQL schema, version 2. Every batch of messages updates the chat and the open
-- conversation of each of its users (last inbound time, profile): room left on each page keeps
-- those updates HOT (no new index entries, less bloat), which the heap fills otherwise.
ALTER TABLE chats SET (fillfactor = 70);
ALTER TABLE conversations SET (fillfactor = 70);
