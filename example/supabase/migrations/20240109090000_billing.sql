-- Plans are a price list the app only reads: the API roles keep SELECT and lose every write
-- privilege, so the missing write policies are no finding (a table read-only by GRANT).
create table public.plans (
  id bigint generated always as identity primary key,
  name text not null,
  price_cents integer not null
);
alter table public.plans enable row level security;
revoke insert, update, delete on public.plans from anon, authenticated;
create policy "Everyone reads plans" on public.plans for select using (true);

-- Invoices are written by the backend with the service_role key. The insert policy was meant
-- to let the backend write, but service_role bypasses RLS, so the policy never runs; and
-- signed-in users, who still hold INSERT, UPDATE and DELETE, have no policy for them.
create table public.invoices (
  id bigint generated always as identity primary key,
  team_id bigint not null references public.teams (id) on delete cascade,
  amount_cents integer not null
);
create index invoices_team_id_idx on public.invoices (team_id);
alter table public.invoices enable row level security;
create policy "Team members read invoices" on public.invoices for select to authenticated
  using (team_id in (select m.team_id from public.team_members m where m.user_id = (select auth.uid())));
create policy "Backend writes invoices" on public.invoices for insert to service_role with check (true);
