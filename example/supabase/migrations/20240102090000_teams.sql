-- Teams and their members.
create table public.teams (
  id bigint generated always as identity primary key,
  name text not null,
  created_by uuid references auth.users (id) on delete set null
);
create index teams_created_by_idx on public.teams (created_by);

create table public.team_members (
  team_id bigint not null references public.teams (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null default 'member',
  primary key (team_id, user_id)
);
create index team_members_user_id_idx on public.team_members (user_id);

alter table public.teams enable row level security;
alter table public.team_members enable row level security;

create policy "Members manage their teams" on public.teams for all to authenticated
  using (exists (select 1 from public.team_members m where m.team_id = teams.id and m.user_id = (select auth.uid())));

create policy "Members see their memberships" on public.team_members for all to authenticated
  using (user_id = (select auth.uid()));
