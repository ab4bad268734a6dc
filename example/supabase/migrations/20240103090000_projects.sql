-- Projects belong to a team and remember who owns them.
create table public.projects (
  id bigint generated always as identity primary key,
  team_id bigint not null references public.teams (id) on delete cascade,
  owner_id uuid not null references auth.users (id),
  name text not null
);
create index projects_team_id_idx on public.projects (team_id);
create index projects_owner_id_idx on public.projects (owner_id);

alter table public.projects enable row level security;

create policy "Team members work on projects" on public.projects for all to authenticated
  using (team_id in (select m.team_id from public.team_members m where m.user_id = (select auth.uid())));
