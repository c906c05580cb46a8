-- What a Supabase project already has, for a plain local PostgreSQL: the API roles and auth.uid().
-- Apply it before sql/schema.sql on a local database; never on a Supabase project.
-- Idempotent: each part is created only when missing.

do $$
declare
    role_name text;
begin
    foreach role_name in array array['anon', 'authenticated', 'service_role'] loop
        if not exists (select 1 from pg_roles where rolname = role_name) then
            begin
                execute format('create role %I nologin noinherit', role_name);
            exception when duplicate_object or unique_violation then
                null;  -- created meanwhile by a concurrent run: roles are cluster-wide
            end;
        end if;
    end loop;
    -- Like Supabase: the server's key acts as service_role, which row-level security lets through.
    if not (select rolbypassrls from pg_roles where rolname = 'service_role') then
        alter role service_role bypassrls;
    end if;
end
$$;

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;

do $$
begin
    if to_regprocedure('auth.uid()') is null then
        -- Supabase's definition: the JWT's `sub` claim, as PostgREST sets it per request.
        create function auth.uid() returns uuid
        language sql stable
        as $fn$
            select coalesce(
                nullif(current_setting('request.jwt.claim.sub', true), ''),
                (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
            )::uuid
        $fn$;
    end if;
end
$$;
