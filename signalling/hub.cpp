// SPDX-License-Identifier: LGPL-2.1-or-later
#include "hub.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include <glib.h>

namespace rtcstream::signalling {

namespace p = rtcstream::protocol;

namespace {

// Characters that do not show as themselves: C0/C1 controls and Unicode
// "format" characters (bidi overrides and isolates, zero-width joiners).
// Wall-clock seconds, for token expiry.
std::int64_t
now_s ()
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

bool
hidden (gunichar c)
{
  const GUnicodeType t = g_unichar_type (c);
  return t == G_UNICODE_CONTROL || t == G_UNICODE_FORMAT || t == G_UNICODE_LINE_SEPARATOR ||
      t == G_UNICODE_PARAGRAPH_SEPARATOR;
}

}  // namespace

std::string
log_safe (std::string_view text, std::size_t max)
{
  std::string out;
  const char *p = text.data ();
  const char *end = p + text.size ();
  while (p < end && out.size () < max) {
    const gunichar c = g_utf8_get_char_validated (p, end - p);
    if (c == static_cast<gunichar> (-1) || c == static_cast<gunichar> (-2)) {
      char hex[8];
      g_snprintf (hex, sizeof hex, "\\x%02X", static_cast<unsigned char> (*p));
      out += hex;
      p++;
      continue;
    }
    const char *next = g_utf8_next_char (p);
    if (hidden (c) || c == '\\') {
      char esc[16];
      g_snprintf (esc, sizeof esc, c == '\\' ? "\\\\" : "\\u{%04X}", c);
      out += esc;
    } else {
      out.append (p, next - p);
    }
    p = next;
  }
  if (p < end)
    out += "...";
  return out;
}

std::string
stream_name_problem (std::string_view name)
{
  if (name.empty () || name.size () > 128)
    return "A stream name has 1 to 128 bytes.";
  if (!g_utf8_validate (name.data (), static_cast<gssize> (name.size ()), nullptr))
    return "A stream name is UTF-8 text.";
  if (name == "." || name == "..")
    return "A stream name cannot be \".\" or \"..\".";
  for (const char *p = name.data (); p < name.data () + name.size (); p = g_utf8_next_char (p)) {
    const gunichar c = g_utf8_get_char (p);
    if (c == '/' || c == '\\')
      return "A stream name cannot contain \"/\" or \"\\\".";
    if (hidden (c) || c == 0)
      return "A stream name cannot contain control, invisible or bidirectional characters.";
  }
  return {};
}

using p::ErrorCode;
using p::Role;

namespace {

std::string
in_quotes (const std::string &s)
{
  return "\"" + s + "\"";
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded (Ts...) -> Overloaded<Ts...>;

}  // namespace

bool
Hub::PeerState::has (Role role) const
{
  return std::find (roles.begin (), roles.end (), role) != roles.end ();
}

Hub::Hub (p::Limits limits)
    : limits_ (limits), rng_ (std::random_device {} ())
{
}

std::size_t
Hub::session_count (const std::string &peer_id) const
{
  auto it = peers_.find (peer_id);
  return it == peers_.end () ? 0 : it->second.sessions.size ();
}

// Random (version 4 style) UUIDs: unguessable, so a peer cannot join a session
// by guessing its id, and unique among the ids in use.
std::string
Hub::new_id ()
{
  for (;;) {
    uint64_t hi = rng_ (), lo = rng_ ();
    hi = (hi & ~0xf000ull) | 0x4000ull;                    // version 4
    lo = (lo & ~(0xc000ull << 48)) | (0x8000ull << 48);    // variant 1
    char buf[37];
    std::snprintf (buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
        static_cast<unsigned> (hi >> 32), static_cast<unsigned> ((hi >> 16) & 0xffff),
        static_cast<unsigned> (hi & 0xffff), static_cast<unsigned> (lo >> 48),
        static_cast<unsigned long long> (lo & 0xffffffffffffull));
    std::string id (buf);
    if (!peers_.count (id) && !sessions_.count (id))
      return id;
  }
}

void
Hub::send (Out &out, const std::string &to, const p::ServerMessage &msg)
{
  out.push_back (Outgoing { to, p::serialize (msg) });
}

void
Hub::error (Out &out, const std::string &to, ErrorCode code, std::string details)
{
  send (out, to, p::Error { std::move (details), code });
}

Hub::Admission
Hub::add_peer (Access access)
{
  Admission result;
  if (peers_.size () >= limits_.max_peers) {
    result.reply = p::serialize (p::ServerMessage (p::Error {
        "The server already has its maximum of " + std::to_string (limits_.max_peers) +
        " peers; try again later or raise the server's --max-peers.",
        ErrorCode::LimitReached }));
    return result;
  }
  result.peer_id = new_id ();
  PeerState state;
  state.access = std::move (access);
  peers_.emplace (result.peer_id, std::move (state));
  p::Welcome welcome { result.peer_id, {} };
  if (ice_servers_for_)
    welcome.ice_servers = ice_servers_for_ (result.peer_id);
  result.reply = p::serialize (p::ServerMessage (std::move (welcome)));
  return result;
}

std::vector<Outgoing>
Hub::reject (const std::string &peer_id, ErrorCode code, std::string details) const
{
  Out out;
  error (out, peer_id, code, std::move (details));
  return out;
}

std::vector<Outgoing>
Hub::handle (const std::string &peer_id, std::string_view text)
{
  Out out;
  auto it = peers_.find (peer_id);
  if (it == peers_.end ()) {
    error (out, peer_id, ErrorCode::UnknownPeer, "Peer " + in_quotes (peer_id) +
        " is not connected; reconnect to get a new peer id.");
    return out;
  }

  auto parsed = p::parse_client_message (text, limits_);
  if (!parsed.ok ()) {
    out.push_back (Outgoing { peer_id, p::serialize (p::ServerMessage (parsed.error)) });
    return out;
  }

  PeerState &peer = it->second;
  std::visit (Overloaded {
    [&] (const p::SetPeerStatus &m) { on_set_peer_status (peer_id, peer, m, out); },
    [&] (const p::StartSessionRequest &m) { on_start_session (peer_id, peer, m, out); },
    [&] (const p::EndSession &m) { on_end_session (peer_id, m, out); },
    [&] (const p::Peer &m) { on_peer (peer_id, m, out); },
    [&] (const p::ListRequest &) { on_list (peer_id, out); },
    [&] (const p::ListConsumersRequest &) { on_list_consumers (peer_id, out); },
    [&] (const p::SetProtocolVersion &m) { on_protocol_version (peer_id, peer, m, out); },
    [&] (const p::ResumeSession &m) { on_resume_session (peer_id, peer, m, out); },
  }, *parsed.message);

  // `peer` may be gone only through remove_peer, never from a message.
  peer.received_message = true;
  return out;
}

void
Hub::on_set_peer_status (const std::string &from, PeerState &peer,
    const p::SetPeerStatus &msg, Out &out)
{
  auto has = [&] (Role role) {
    return std::find (msg.roles.begin (), msg.roles.end (), role) != msg.roles.end ();
  };
  const bool producing = has (Role::Producer);
  const bool consuming = has (Role::Consumer);
  if (producing && consuming) {
    error (out, from, ErrorCode::NotAllowed, "A peer cannot be both a producer and a "
        "consumer; use two connections.");
    return;
  }

  // Our extension: a producer's meta.name is its stream name, unique among
  // producers, so a consumer can find a stream by name.
  const std::string name = producing ? p::stream_name_from_meta (msg.meta) : std::string ();
  if (producing && !allowed (from, peer, Action::Publish, name, out))
    return;
  if (!name.empty ()) {
    auto taken = stream_names_.find (name);
    if (taken != stream_names_.end () && taken->second != from) {
      error (out, from, ErrorCode::NameTaken, "A producer named " + in_quotes (name) +
          " is already registered; choose another stream name (meta.name).");
      return;
    }
  }

  // Our extension: a producer's meta.room puts it in that room.
  const std::string room = producing ? p::room_from_meta (msg.meta) : std::string ();
  if (producing && msg.meta.is_object () && msg.meta.contains ("room") &&
      !valid_room (from, room, name, out))
    return;

  if (peer.announced && peer.roles == msg.roles && peer.meta == msg.meta)
    return;  // nothing changed: nobody to tell

  const bool room_changed = peer.room != room || (!room.empty () && peer.stream_name != name);
  if (room_changed)
    leave_room (from, peer, out);

  if (peer.has (Role::Producer) && !producing)
    end_sessions_as (from, Role::Producer, out);
  if (peer.has (Role::Consumer) && !consuming)
    end_sessions_as (from, Role::Consumer, out);

  // Listeners that may see the stream hear of the change, also of one that
  // stops producing (by the name they knew).
  const std::string seen_as = producing ? name : peer.stream_name;
  const bool was_or_is_producer = producing || peer.has (Role::Producer);
  if (peer.stream_name != name) {
    if (!peer.stream_name.empty ())
      stream_names_.erase (peer.stream_name);
    if (!name.empty ())
      stream_names_[name] = from;
    peer.stream_name = name;
  }

  peer.roles = msg.roles;
  peer.meta = msg.meta;
  peer.announced = true;
  notify_listeners (from, peer.roles, peer.meta, was_or_is_producer, seen_as, out);
  if (room_changed && !room.empty ()) {
    peer.room = room;
    join_room (from, peer, out);
  }
}

bool
Hub::valid_room (const std::string &from, const std::string &room, const std::string &name,
    Out &out) const
{
  std::string problem = p::room_name_problem (room, "room");
  if (problem.empty ()) {
    const std::string prefix = room + ":";
    if (name.compare (0, prefix.size (), prefix) != 0)
      problem = "A participant of room " + in_quotes (room) + " must publish under the "
          "stream name ROOM:PARTICIPANT (meta.name " + in_quotes (prefix + "PARTICIPANT") +
          "), not " + in_quotes (name) + ".";
    else
      problem = p::room_name_problem (std::string_view (name).substr (prefix.size ()),
          "participant");
  }
  if (problem.empty ())
    return true;
  error (out, from, ErrorCode::InvalidMessage, "meta.room: " + problem);
  return false;
}

std::size_t
Hub::room_size (const std::string &room) const
{
  auto it = rooms_.find (room);
  return it == rooms_.end () ? 0 : it->second.size ();
}

void
Hub::join_room (const std::string &peer_id, const PeerState &peer, Out &out)
{
  std::set<std::string> &members = rooms_[peer.room];
  const std::int64_t now = now_s ();
  p::RoomJoined joined { peer.room, {} };
  for (const std::string &id : members) {
    const PeerState &other = peers_.at (id);
    if (peer.access.may_see (other.stream_name, now))
      joined.participants.push_back (p::PeerInfo { id, other.meta });
    if (other.access.may_see (peer.stream_name, now))
      send (out, id, p::ParticipantJoined { peer.room, peer_id, peer.meta });
  }
  members.insert (peer_id);
  send (out, peer_id, joined);
}

void
Hub::leave_room (const std::string &peer_id, PeerState &peer, Out &out, bool lost)
{
  if (peer.room.empty ())
    return;
  auto it = rooms_.find (peer.room);
  if (it != rooms_.end ()) {
    it->second.erase (peer_id);
    const std::int64_t now = now_s ();
    for (const std::string &id : it->second) {
      if (peers_.at (id).access.may_see (peer.stream_name, now))
        send (out, id, p::ParticipantLeft { peer.room, peer_id, peer.meta, lost });
    }
    if (it->second.empty ())
      rooms_.erase (it);
  }
  peer.room.clear ();
}

bool
Hub::allowed (const std::string &from, const PeerState &peer, Action action,
    const std::string &name, Out &out) const
{
  const Access::Verdict verdict = peer.access.check (action, name, now_s ());
  if (verdict == Access::Verdict::Allowed)
    return true;
  error (out, from, verdict == Access::Verdict::WrongScope ? ErrorCode::Forbidden
      : ErrorCode::Unauthorized, Access::explain (verdict, action, name));
  return false;
}

void
Hub::on_start_session (const std::string &from, PeerState &peer,
    const p::StartSessionRequest &msg, Out &out)
{
  if (msg.peer_id == from) {
    error (out, from, ErrorCode::NotAllowed, "A peer cannot start a session with itself; "
        "give the id of another peer.");
    return;
  }
  auto target = peers_.find (msg.peer_id);
  if (target == peers_.end ()) {
    error (out, from, ErrorCode::UnknownPeer, "No peer with id " + in_quotes (msg.peer_id) +
        " is connected; ask for the current producers with a \"list\" message.");
    return;
  }

  // As in gst-plugins-rs: a session with a producer makes the requester its
  // consumer; a session with a (passive) consumer makes the requester the
  // producer.
  std::string producer, consumer;
  if (target->second.has (Role::Producer)) {
    producer = msg.peer_id;
    consumer = from;
  } else if (target->second.has (Role::Consumer)) {
    if (!peer.has (Role::Producer)) {
      error (out, from, ErrorCode::NotAllowed, "Peer " + in_quotes (msg.peer_id) + " is a "
          "consumer; only a producer can start a session with it.");
      return;
    }
    producer = from;
    consumer = msg.peer_id;
  } else {
    error (out, from, ErrorCode::NotProducer, "Peer " + in_quotes (msg.peer_id) +
        " is not a producer; start sessions with a peer listed by \"list\".");
    return;
  }

  // The consumer must be allowed to watch the producer's stream.
  const PeerState &producer_state = producer == from ? peer : target->second;
  const PeerState &consumer_state = consumer == from ? peer : target->second;
  const std::string &stream = producer_state.stream_name;
  const Access::Verdict verdict = consumer_state.access.check (Action::Watch, stream, now_s ());
  if (verdict != Access::Verdict::Allowed) {
    error (out, from, verdict == Access::Verdict::WrongScope ? ErrorCode::Forbidden
        : ErrorCode::Unauthorized, consumer == from ? Access::explain (verdict, Action::Watch,
            stream) : "Consumer " + in_quotes (consumer) + " may not watch this stream (" +
            Access::explain (verdict, Action::Watch, stream) + ")");
    return;
  }

  if (at_session_limit (from, peer, "starting", out))
    return;
  const std::size_t max = limits_.max_sessions_per_peer;
  if (target->second.sessions.size () >= max) {
    error (out, from, ErrorCode::LimitReached, "Peer " + in_quotes (msg.peer_id) +
        " already has its maximum of " + std::to_string (max) + " sessions; try again later.");
    return;
  }

  const std::string session_id = new_id ();
  sessions_.emplace (session_id, Session { producer, consumer });
  peer.sessions.insert (session_id);
  target->second.sessions.insert (session_id);

  send (out, consumer, p::SessionStarted { producer, session_id });
  send (out, producer, p::StartSession { consumer, session_id, msg.offer });
}

bool
Hub::at_session_limit (const std::string &from, const PeerState &peer, const char *doing,
    Out &out) const
{
  const std::size_t max = limits_.max_sessions_per_peer;
  if (peer.sessions.size () < max)
    return false;
  error (out, from, ErrorCode::LimitReached, "This peer already has its maximum of " +
      std::to_string (max) + " sessions; end one before " + doing + " another.");
  return true;
}

void
Hub::on_end_session (const std::string &from, const p::EndSession &msg, Out &out)
{
  auto it = sessions_.find (msg.session_id);
  if (it == sessions_.end () ||
      (it->second.producer != from && it->second.consumer != from)) {
    error (out, from, ErrorCode::UnknownSession, "This peer has no session " +
        in_quotes (msg.session_id) + "; it may have ended already.");
    return;
  }
  end_session (msg.session_id, from, out);
}

void
Hub::on_peer (const std::string &from, const p::Peer &msg, Out &out)
{
  auto it = sessions_.find (msg.session_id);
  if (it == sessions_.end () ||
      (it->second.producer != from && it->second.consumer != from)) {
    error (out, from, ErrorCode::UnknownSession, "This peer has no session " +
        in_quotes (msg.session_id) + "; it may have ended, so drop its messages.");
    return;
  }
  const Session &session = it->second;
  const p::Sdp *sdp = std::get_if<p::Sdp> (&msg.body);
  if (sdp && sdp->type == "offer" && from == session.consumer) {
    error (out, from, ErrorCode::NotAllowed, "The consumer of session " +
        in_quotes (msg.session_id) + " cannot send an offer; the producer offers, or the "
        "consumer puts its offer in \"startSession\".");
    return;
  }
  // A resumed session whose other side is not back yet: nobody to tell.
  if (!session.other (from).empty ())
    send (out, session.other (from), msg);
}

// Without the list scope, a token that may watch some streams gets those.
void
Hub::on_list (const std::string &from, Out &out) const
{
  const PeerState &peer = peers_.at (from);
  const Access::Verdict verdict = peer.access.check (Action::List, {}, now_s ());
  if (verdict == Access::Verdict::WrongScope && !peer.access.may_watch_any (now_s ())) {
    error (out, from, ErrorCode::Forbidden, "The token allows neither listing the streams "
        "nor watching any: that needs the scope list, or watch:NAME.");
    return;
  }
  if (verdict != Access::Verdict::WrongScope && !allowed (from, peer, Action::List, {}, out))
    return;
  send (out, from, p::ListReply { peers_with (Role::Producer, &peer.access) });
}

void
Hub::on_list_consumers (const std::string &from, Out &out) const
{
  if (!allowed (from, peers_.at (from), Action::List, {}, out))
    return;
  send (out, from, p::ListConsumersReply { peers_with (Role::Consumer) });
}

void
Hub::on_protocol_version (const std::string &from, const PeerState &peer,
    const p::SetProtocolVersion &msg, Out &out) const
{
  if (peer.received_message) {
    error (out, from, ErrorCode::NotAllowed, "\"setProtocolVersion\" must be the first "
        "message of a connection; reconnect to change it.");
    return;
  }
  // gst-plugins-rs serializes its only version as "v1_0"; we document "1.0".
  if (msg.version != "1.0" && msg.version != "v1_0") {
    error (out, from, ErrorCode::InvalidMessage, "Protocol version " + in_quotes (msg.version) +
        " is not supported; this server speaks \"1.0\".");
  }
}

// Our extension. A session that went on peer to peer while its two sides
// lost their connections (a restarted server never knew it; see
// docs/protocol.md): the first side to claim it makes it, with the other
// side empty; the second fills that side in. A producer also claims here the
// sessions that outlived its lost connection (remove_peer). From then on it
// is a session as any other. Only a side nobody holds can be taken, so a
// third peer (which would need the unguessable id anyway) cannot take one
// over, nor can one peer be both sides.
void
Hub::on_resume_session (const std::string &from, PeerState &peer, const p::ResumeSession &msg,
    Out &out)
{
  const bool as_producer = msg.as == Role::Producer;
  if (as_producer && !peer.has (Role::Producer)) {
    error (out, from, ErrorCode::NotAllowed, "Only a producer can resume a session as its "
        "producer; register with \"setPeerStatus\" first.");
    return;
  }
  // A producer was allowed to publish when it registered; a consumer must be
  // allowed to watch (the session's stream is not known before its producer
  // is back).
  if (!as_producer && !peer.access.may_watch_any (now_s ())) {
    allowed (from, peer, Action::Watch, "*", out);
    return;
  }
  auto it = sessions_.find (msg.session_id);
  if (it != sessions_.end ()) {
    const Session &s = it->second;
    const std::string &side = as_producer ? s.producer : s.consumer;
    if (side == from)
      return;  // claimed already
    if (!side.empty () || s.other (side) == from) {
      error (out, from, ErrorCode::NotAllowed, "Session " + in_quotes (msg.session_id) +
          (side.empty () ? std::string (" has this peer on its other side")
                         : " has its " + std::string (p::role_name (msg.as)) + " already") +
          "; it cannot be resumed as its " + p::role_name (msg.as) + ".");
      return;
    }
  }
  if (at_session_limit (from, peer, "resuming", out))
    return;
  Session &s = sessions_[msg.session_id];
  (as_producer ? s.producer : s.consumer) = from;
  if (as_producer)
    s.producer_lost_us = 0;
  peer.sessions.insert (msg.session_id);
}

std::vector<p::PeerInfo>
Hub::peers_with (Role role, const Access *viewer) const
{
  const std::int64_t now = now_s ();
  std::vector<p::PeerInfo> list;
  for (const auto &[id, peer] : peers_) {
    if (peer.has (role) && (!viewer || viewer->may_see (peer.stream_name, now)))
      list.push_back (p::PeerInfo { id, peer.meta });
  }
  return list;
}

void
Hub::notify_listeners (const std::string &peer_id, const std::vector<Role> &roles,
    const nlohmann::json &meta, bool producer, const std::string &stream_name, Out &out) const
{
  const std::string text = p::serialize (p::ServerMessage (p::PeerStatusChanged {
      peer_id, roles, meta }));
  const std::int64_t now = now_s ();
  // A peer that is not, and was not, a producer is seen with the list scope only.
  for (const auto &[id, peer] : peers_) {
    if (!peer.has (Role::Listener))
      continue;
    const bool visible = id == peer_id || (producer ? peer.access.may_see (stream_name, now)
        : peer.access.check (Action::List, {}, now) == Access::Verdict::Allowed);
    if (visible)
      out.push_back (Outgoing { id, text });
  }
}

void
Hub::end_session (const std::string &session_id, const std::string &by, Out &out)
{
  auto it = sessions_.find (session_id);
  if (it == sessions_.end ())
    return;
  const Session session = std::move (it->second);
  sessions_.erase (it);
  for (const std::string *id : { &session.producer, &session.consumer }) {
    auto peer = peers_.find (*id);
    if (peer != peers_.end ())
      peer->second.sessions.erase (session_id);
  }
  const std::string &other = session.other (by);
  if (peers_.count (other))
    send (out, other, p::EndSession { session_id });
}

void
Hub::end_sessions_as (const std::string &peer_id, Role role, Out &out)
{
  auto it = peers_.find (peer_id);
  if (it == peers_.end ())
    return;
  std::vector<std::string> ids;
  for (const std::string &sid : it->second.sessions) {
    const Session &s = sessions_.at (sid);
    if ((role == Role::Producer ? s.producer : s.consumer) == peer_id)
      ids.push_back (sid);
  }
  for (const std::string &sid : ids)
    end_session (sid, peer_id, out);
}

std::vector<Outgoing>
Hub::expire_unclaimed (std::int64_t now_us)
{
  Out out;
  std::vector<std::string> expired;
  for (const auto &[sid, s] : sessions_) {
    if (s.producer.empty () && s.producer_lost_us &&
        now_us - s.producer_lost_us >= resume_grace_us_)
      expired.push_back (sid);
  }
  // Ended "by" the empty producer side: the consumer is told.
  for (const std::string &sid : expired)
    end_session (sid, std::string (), out);
  return out;
}

std::vector<Outgoing>
Hub::remove_peer (const std::string &peer_id, bool lost, std::int64_t now_us)
{
  Out out;
  auto it = peers_.find (peer_id);
  if (it == peers_.end ())
    return out;

  // Copy: end_session edits the set.
  const std::set<std::string> sessions = it->second.sessions;
  for (const std::string &sid : sessions) {
    Session &s = sessions_.at (sid);
    if (lost && resume_grace_us_ > 0 && s.producer == peer_id && !s.consumer.empty ()) {
      s.producer.clear ();  // for the producer to claim once it is back
      s.producer_lost_us = now_us;
      continue;
    }
    end_session (sid, peer_id, out);
  }

  // A lost producer whose sessions wait for it may come back (under a new
  // id): the others are told so, and may wait for it too.
  leave_room (peer_id, it->second, out, lost && resume_grace_us_ > 0 && it->second.has (Role::Producer));
  const PeerState gone = std::move (it->second);
  peers_.erase (it);
  if (!gone.stream_name.empty ())
    stream_names_.erase (gone.stream_name);
  // Listeners only ever heard of peers that announced a status.
  if (gone.announced)
    notify_listeners (peer_id, {}, gone.meta, gone.has (Role::Producer), gone.stream_name, out);
  return out;
}

}  // namespace rtcstream::signalling
