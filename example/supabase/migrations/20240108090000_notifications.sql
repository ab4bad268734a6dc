-- Notifications, invitations and per-user settings: every table here passes the checklist.
create table public.notifications (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  body text not null,
  read_at timestamptz
);
create index notifications_user_id_idx on public.notifications (user_id);
alter table public.notifications enable row level security;
create policy "Users manage their notifications" on public.notifications for all to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create table public.invitations (
  id bigint generated always as identity primary key,
  team_id bigint not null references public.teams (id) on delete cascade,
  invited_by uuid references auth.users (id) on delete set null,
  email text not null
);
create index invitations_team_id_idx on public.invitations (team_id);
create index invitations_invited_by_idx on public.invitations (invited_by);
alter table public.invitations enable row level security;
create policy "Team members manage invitations" on public.invitations for all to authenticated
  using (team_id in (select m.team_id from public.team_members m where m.user_id = (select auth.uid())));

create table public.user_settings (
  user_id uuid primary key references auth.users (id) on delete cascade,
  theme text not null default 'light'
);
alter table public.user_settings enable row level security;
create policy "Users manage their settings" on public.user_settings for all to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);
