-- The role the services connect as. `railyard migrate --grant-to railyard_service`,
-- run as the owner, grants it SELECT, INSERT and UPDATE on the event log (never DELETE
-- or TRUNCATE); a trigger the service role cannot disable refuses UPDATE and DELETE.
CREATE ROLE railyard_service LOGIN PASSWORD 'railyard_service';
