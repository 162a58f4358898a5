// SPDX-License-Identifier: LGPL-2.1-or-later
#include "ws-signaller.h"

#include <libsoup/soup.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "rtcstream/protocol.h"
#include "rtcstream/ref.h"
#include "rtcstream/signallers/soup-session.h"

GST_DEBUG_CATEGORY_STATIC (rtcstream_ws_signaller_debug);
#define GST_CAT_DEFAULT rtcstream_ws_signaller_debug

namespace proto = rtcstream::protocol;
using rtcstream::Ref;
using rtcstream::SoupSessionOptions;
using rtcstream::make_soup_session;
using rtcstream::emit_error;
using rtcstream::emit_warning;

namespace {

enum {
  PROP_0,
  PROP_URI,
  PROP_PEER_ID,
  PROP_ROOM,
};

enum {
  SIGNAL_PARTICIPANT_JOINED,
  SIGNAL_PARTICIPANT_LEFT,
  N_SIGNALS,
};
guint signals[N_SIGNALS];

constexpr std::size_t kMaxServerMessage = 8 * 1024 * 1024;

// Connecting: the first connection, or a reconnection (reconnecting set).
// GaveUp: the connection was lost and could not be had again: only stop
// leaves it.
enum class Phase { Idle, Connecting, Welcomed, Registered, GaveUp, Stopped };

// A producer whose name the server still gives to its lost connection (the
// server has not noticed yet that it is gone) asks again this often.
constexpr guint kNameRetryMs = 1000;

// Rooms: after we joined a room again (a reconnection, the server restarted),
// a participant that is not back yet is given this long to come back (it is
// reconnecting too) before it is said to have left.
constexpr guint kRejoinGraceMs = 10000;

struct State {
  // Settings: guarded by lock, copied out before use.
  std::mutex lock;
  std::string uri = "ws://127.0.0.1:8443/ws";
  std::string peer_id;
  std::string room;  // producer: the room it takes part in (docs/protocol.md, Rooms)

  // Worker-thread-only state.
  std::map<std::string, std::string> participants;  // the others in the room: id -> stream
  std::set<std::string> awaited;    // streams not back yet after our rejoin
  guint awaited_timer = 0;
  Ref<SoupSession> session;
  Ref<SoupWebsocketConnection> ws;
  GCancellable *cancellable = nullptr;
  Phase phase = Phase::Idle;
  std::set<std::string> sessions;
  bool session_requested = false;  // consumer: startSession sent
  guint wait_timer = 0;
  // After a lost connection, until back in touch (registered again, or
  // welcomed for a consumer): the attempts made, the next attempt's timer,
  // the give-up timer, when it was lost, and why.
  bool reconnecting = false;
  guint attempts = 0;
  guint retry_timer = 0;
  guint give_up_timer = 0;
  gint64 lost_at_us = 0;
  std::string lost_why;
};

}  // namespace

struct _RtcstreamWsSignaller {
  RtcstreamBaseSignaller parent;
  State *state;  // owned by the base (rtcstream_base_signaller_set_state)
};

G_DEFINE_TYPE_WITH_CODE (RtcstreamWsSignaller, rtcstream_ws_signaller,
    RTCSTREAM_TYPE_BASE_SIGNALLER,
    GST_DEBUG_CATEGORY_INIT (rtcstream_ws_signaller_debug, "rtcstream-signaller", 0,
        "rtcstream websocket signaller"))

namespace {

RtcstreamSignaller *
as_iface (RtcstreamWsSignaller *self)
{
  return RTCSTREAM_SIGNALLER (self);
}

void connect_to_server (RtcstreamWsSignaller *self);
void schedule_reconnect (RtcstreamWsSignaller *self);
void give_up (RtcstreamWsSignaller *self, const std::string &message,
    RtcstreamSignallerError code = RTCSTREAM_SIGNALLER_ERROR_DISCONNECTED);

// Must be called on the worker thread.
void
send_message (RtcstreamWsSignaller *self, const proto::ClientMessage &msg)
{
  State *st = self->state;
  if (!st->ws || soup_websocket_connection_get_state (st->ws.get ()) != SOUP_WEBSOCKET_STATE_OPEN) {
    GST_DEBUG_OBJECT (self, "not connected, dropping message");
    return;
  }
  std::string text = proto::serialize (msg);
  GST_TRACE_OBJECT (self, "-> %s", text.c_str ());
  soup_websocket_connection_send_text (st->ws.get (), text.c_str ());
}

std::string
setting_uri (RtcstreamWsSignaller *self)
{
  std::lock_guard<std::mutex> lk (self->state->lock);
  return self->state->uri;
}

void
request_session (RtcstreamWsSignaller *self, const std::string &producer_id)
{
  State *st = self->state;
  if (st->session_requested)
    return;
  st->session_requested = true;
  rtcstream::cancel_timer (&self->parent, st->wait_timer);
  GST_INFO_OBJECT (self, "asking producer %s for a session", producer_id.c_str ());
  send_message (self, proto::StartSessionRequest{producer_id, std::nullopt});
}

bool
matches_stream (const std::string &wanted, const nlohmann::json &meta)
{
  return wanted.empty () || proto::stream_name_from_meta (meta) == wanted;
}

void
start_waiting_for_producer (RtcstreamWsSignaller *self)
{
  State *st = self->state;
  const rtcstream::SignallerSettings settings = rtcstream::signaller_settings (&self->parent);
  const gint timeout = settings.producer_timeout_ms;
  std::string name = rtcstream::signaller_stream_name (&self->parent);
  // A server with tokens lists only the streams a token may watch.
  const std::string scope_hint = settings.auth_token.empty () ? std::string ()
      : " (or auth-token does not allow watching it: the server lists to a token only the "
        "streams it may watch)";
  if (timeout == 0) {
    emit_error (&self->parent, RTCSTREAM_SIGNALLER_ERROR_NOT_FOUND,
        "No stream named '" + name + "' is published on " + setting_uri (self) +
        ": check the name, or start the producer first (producer-timeout is 0)" + scope_hint);
    return;
  }
  GST_INFO_OBJECT (self, "stream '%s' not published yet, waiting", name.c_str ());
  if (timeout > 0 && !st->wait_timer) {
    st->wait_timer = rtcstream::post_delayed (self, timeout,
        [name, timeout, scope_hint] (RtcstreamWsSignaller *self) {
          State *st = self->state;
          st->wait_timer = 0;
          if (st->session_requested || st->phase == Phase::Stopped ||
              st->phase == Phase::GaveUp)
            return;
          emit_error (&self->parent, RTCSTREAM_SIGNALLER_ERROR_NOT_FOUND,
              "No stream named '" + name + "' appeared on " + setting_uri (self) +
              " within " + std::to_string (timeout) +
              " ms: check the name, start the producer, or raise producer-timeout" +
              scope_hint);
        });
  }
}

// Producer, welcomed: registers under the stream name, listening too, so
// that the server's echo of our own status tells us it was accepted.
void
register_producer (RtcstreamWsSignaller *self)
{
  const std::string name = rtcstream::signaller_stream_name (&self->parent);
  nlohmann::json meta = nullptr;
  if (!name.empty ())
    meta = nlohmann::json{{"name", name}};
  std::string room;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    room = self->state->room;
  }
  if (!room.empty ())
    meta["room"] = room;
  send_message (self, proto::SetPeerStatus{
      {proto::Role::Producer, proto::Role::Listener}, meta, std::nullopt});
}

// After a reconnection: registered again (producer) or welcomed (consumer).
void
back_in_touch (RtcstreamWsSignaller *self)
{
  State *st = self->state;
  rtcstream::cancel_timer (&self->parent, st->give_up_timer);
  st->reconnecting = false;
  // The sessions that went on: the server (a restarted one never knew them)
  // relays their messages again once both sides have claimed them, so that
  // an end or a renegotiation reaches the other side (docs/protocol.md).
  const proto::Role as = rtcstream_base_signaller_get_role (&self->parent) ==
          RTCSTREAM_ROLE_PRODUCER ? proto::Role::Producer : proto::Role::Consumer;
  for (const std::string &sid : st->sessions)
    send_message (self, proto::ResumeSession{sid, as});
  GST_INFO_OBJECT (self, "back in touch with %s %" G_GINT64_FORMAT " ms after losing it; "
      "%zu session(s) went on meanwhile", setting_uri (self).c_str (),
      (g_get_monotonic_time () - st->lost_at_us) / 1000, st->sessions.size ());
}

// Rooms: a participant came or went.
void
participant_joined (RtcstreamWsSignaller *self, const std::string &id, const nlohmann::json &meta)
{
  const std::string stream = proto::stream_name_from_meta (meta);
  if (stream.empty () || !self->state->participants.emplace (id, stream).second)
    return;
  GST_INFO_OBJECT (self, "participant %s (%s) is in the room", stream.c_str (), id.c_str ());
  g_signal_emit (self, signals[SIGNAL_PARTICIPANT_JOINED], 0, id.c_str (), stream.c_str ());
}

void
participant_left (RtcstreamWsSignaller *self, const std::string &id)
{
  auto it = self->state->participants.find (id);
  if (it == self->state->participants.end ())
    return;
  const std::string stream = it->second;
  self->state->participants.erase (it);
  GST_INFO_OBJECT (self, "participant %s (%s) left the room", stream.c_str (), id.c_str ());
  g_signal_emit (self, signals[SIGNAL_PARTICIPANT_LEFT], 0, id.c_str (), stream.c_str ());
}

// The participants in `awaited` (lost, or not back after our own
// reconnection) have kRejoinGraceMs to come back under a new peer id; those
// that do not have left.
void
wait_for_participants (RtcstreamWsSignaller *self)
{
  State *st = self->state;
  if (st->awaited.empty () || st->awaited_timer)
    return;
  GST_INFO_OBJECT (self, "%zu participant(s) not back in the room yet: waiting %u ms",
      st->awaited.size (), kRejoinGraceMs);
  st->awaited_timer = rtcstream::post_delayed (self, kRejoinGraceMs,
      [] (RtcstreamWsSignaller *self) {
        State *st = self->state;
        st->awaited_timer = 0;
        std::vector<std::string> gone;
        for (const auto &[id, stream] : st->participants)
          if (st->awaited.count (stream))
            gone.push_back (id);
        st->awaited.clear ();
        for (const std::string &id : gone)
          participant_left (self, id);
      });
}

GstWebRTCSessionDescription *
make_description (const proto::Sdp &sdp)
{
  GstWebRTCSDPType type =
      sdp.type == "offer" ? GST_WEBRTC_SDP_TYPE_OFFER : GST_WEBRTC_SDP_TYPE_ANSWER;
  GstSDPMessage *msg = nullptr;
  if (gst_sdp_message_new_from_text (sdp.sdp.c_str (), &msg) != GST_SDP_OK || !msg)
    return nullptr;
  return gst_webrtc_session_description_new (type, msg);
}

void
handle_server_message (RtcstreamWsSignaller *self, const proto::ServerMessage &msg)
{
  State *st = self->state;
  const bool producer =
      rtcstream_base_signaller_get_role (&self->parent) == RTCSTREAM_ROLE_PRODUCER;
  const std::string name = rtcstream::signaller_stream_name (&self->parent);

  if (auto *m = std::get_if<proto::Welcome> (&msg)) {
    {
      std::lock_guard<std::mutex> lk (st->lock);
      st->peer_id = m->peer_id;
    }
    // The server's STUN/TURN servers (its --ice-server), for the sessions to come.
    rtcstream::signaller_set_ice_servers (&self->parent, "signalling server", m->ice_servers);
    st->phase = Phase::Welcomed;
    GST_INFO_OBJECT (self, "welcomed as peer %s", m->peer_id.c_str ());
    st->attempts = 0;
    if (st->reconnecting && !producer)
      back_in_touch (self);
    if (producer) {
      register_producer (self);
    } else {
      send_message (self, proto::SetPeerStatus{{proto::Role::Listener}, nullptr, std::nullopt});
      // A consumer whose session went on through a reconnection is back in
      // touch now; one without a session (never joined, or lost the
      // connection before its session started) looks for the producer again.
      if (!st->session_requested)
        send_message (self, proto::ListRequest{});
    }
  } else if (auto *m = std::get_if<proto::PeerStatusChanged> (&msg)) {
    std::string my_id;
    {
      std::lock_guard<std::mutex> lk (st->lock);
      my_id = st->peer_id;
    }
    bool is_producer = false;
    for (proto::Role r : m->roles)
      is_producer |= r == proto::Role::Producer;
    if (producer) {
      if (m->peer_id == my_id && is_producer && st->phase == Phase::Welcomed) {
        st->phase = Phase::Registered;
        GST_INFO_OBJECT (self, "registered as producer of '%s'", name.c_str ());
        if (st->reconnecting)
          back_in_touch (self);
        rtcstream_signaller_emit_registered (as_iface (self));
      }
    } else if (is_producer && !st->session_requested && matches_stream (name, m->meta)) {
      request_session (self, m->peer_id);
    }
  } else if (auto *m = std::get_if<proto::ListReply> (&msg)) {
    if (producer || st->session_requested)
      return;
    for (const proto::PeerInfo &p : m->producers) {
      if (matches_stream (name, p.meta)) {
        request_session (self, p.id);
        return;
      }
    }
    start_waiting_for_producer (self);
  } else if (auto *m = std::get_if<proto::StartSession> (&msg)) {
    if (!producer) {
      GST_WARNING_OBJECT (self, "ignoring startSession: we are a consumer");
      return;
    }
    st->sessions.insert (m->session_id);
    GstWebRTCSessionDescription *offer = nullptr;
    if (m->offer)
      offer = make_description (proto::Sdp{"offer", *m->offer});
    GST_INFO_OBJECT (self, "consumer %s asks for session %s", m->peer_id.c_str (),
        m->session_id.c_str ());
    rtcstream_signaller_emit_session_requested (as_iface (self), m->session_id.c_str (),
        m->peer_id.c_str (), offer);
    if (offer)
      gst_webrtc_session_description_free (offer);
  } else if (auto *m = std::get_if<proto::SessionStarted> (&msg)) {
    st->sessions.insert (m->session_id);
    GST_INFO_OBJECT (self, "session %s with producer %s started", m->session_id.c_str (),
        m->peer_id.c_str ());
    rtcstream_signaller_emit_session_started (as_iface (self), m->session_id.c_str (),
        m->peer_id.c_str ());
  } else if (auto *m = std::get_if<proto::Peer> (&msg)) {
    if (!st->sessions.count (m->session_id)) {
      GST_WARNING_OBJECT (self, "message for unknown session %s", m->session_id.c_str ());
      return;
    }
    if (auto *sdp = std::get_if<proto::Sdp> (&m->body)) {
      GstWebRTCSessionDescription *desc = make_description (*sdp);
      if (!desc) {
        GST_WARNING_OBJECT (self, "unparsable SDP for session %s, ending it",
            m->session_id.c_str ());
        send_message (self, proto::EndSession{m->session_id});
        st->sessions.erase (m->session_id);
        rtcstream_signaller_emit_session_ended (as_iface (self), m->session_id.c_str ());
        return;
      }
      rtcstream_signaller_emit_session_description (as_iface (self), m->session_id.c_str (), desc);
      gst_webrtc_session_description_free (desc);
    } else if (auto *ice = std::get_if<proto::Ice> (&m->body)) {
      rtcstream_signaller_emit_handle_ice (as_iface (self), m->session_id.c_str (),
          ice->sdp_m_line_index, ice->candidate.c_str ());
    }
  } else if (auto *m = std::get_if<proto::EndSession> (&msg)) {
    if (st->sessions.erase (m->session_id)) {
      GST_INFO_OBJECT (self, "session %s ended by the other side", m->session_id.c_str ());
      rtcstream_signaller_emit_session_ended (as_iface (self), m->session_id.c_str ());
    }
  } else if (auto *m = std::get_if<proto::RoomJoined> (&msg)) {
    // The others in the room. Again after a reconnection: one that is back
    // under a new peer id (the server restarted) is the same participant,
    // whose session resumes: nobody is told; one not back yet may be
    // reconnecting too: it has kRejoinGraceMs to come back.
    std::map<std::string, std::string> now;  // stream -> id
    for (const proto::PeerInfo &p : m->participants)
      now[proto::stream_name_from_meta (p.meta)] = p.id;
    std::map<std::string, std::string> kept;
    for (const auto &[id, stream] : st->participants) {
      auto it = now.find (stream);
      if (it != now.end ()) {
        kept[it->second] = stream;
      } else {
        kept[id] = stream;
        st->awaited.insert (stream);  // not back yet
      }
    }
    st->participants.swap (kept);
    wait_for_participants (self);
    GST_INFO_OBJECT (self, "in room '%s' with %zu other participant(s)", m->room.c_str (),
        m->participants.size ());
    for (const proto::PeerInfo &p : m->participants)
      participant_joined (self, p.id, p.meta);
  } else if (auto *m = std::get_if<proto::ParticipantJoined> (&msg)) {
    const std::string stream = proto::stream_name_from_meta (m->meta);
    if (st->awaited.erase (stream)) {
      // Back after the reconnection: the same participant, under a new id.
      for (auto it = st->participants.begin (); it != st->participants.end (); ++it) {
        if (it->second == stream) {
          st->participants.erase (it);
          break;
        }
      }
      st->participants[m->peer_id] = stream;
      GST_INFO_OBJECT (self, "participant %s is back in the room", stream.c_str ());
      return;
    }
    participant_joined (self, m->peer_id, m->meta);
  } else if (auto *m = std::get_if<proto::ParticipantLeft> (&msg)) {
    auto it = st->participants.find (m->peer_id);
    if (m->lost && it != st->participants.end ()) {
      // Its connection was lost: it may come back (its sessions wait for it).
      st->awaited.insert (it->second);
      wait_for_participants (self);
      return;
    }
    participant_left (self, m->peer_id);
  } else if (auto *m = std::get_if<proto::Error> (&msg)) {
    switch (m->code) {
      case proto::ErrorCode::NameTaken:
        if (st->reconnecting) {
          // Registering again after a reconnection: the server (one that
          // did not restart) may still give our name to the lost connection
          // until it notices that it is gone (its pings). Ask again.
          GST_INFO_OBJECT (self, "stream name '%s' still held by our lost connection: "
              "asking again in %u ms", name.c_str (), kNameRetryMs);
          rtcstream::post_delayed (self, kNameRetryMs, [] (RtcstreamWsSignaller *self) {
            if (self->state->phase == Phase::Welcomed && self->state->reconnecting)
              register_producer (self);
          });
          break;
        }
        emit_error (&self->parent, RTCSTREAM_SIGNALLER_ERROR_NAME_TAKEN,
            "Stream name '" + name + "' is already published on " + setting_uri (self) +
            ": choose another name in the URI, or stop the other producer (" +
            m->details + ")");
        break;
      case proto::ErrorCode::UnknownPeer:
      case proto::ErrorCode::NotProducer:
        if (!producer && st->session_requested && st->sessions.empty ()) {
          // The producer left between our list and our request: wait again.
          st->session_requested = false;
          start_waiting_for_producer (self);
          break;
        }
        GST_WARNING_OBJECT (self, "server: %s", m->details.c_str ());
        break;
      case proto::ErrorCode::LimitReached:
        emit_error (&self->parent, RTCSTREAM_SIGNALLER_ERROR_REFUSED,
            "The signalling server refused a request: " + m->details);
        break;
      case proto::ErrorCode::Unauthorized:
      case proto::ErrorCode::Forbidden: {
        // A token missing, invalid, expired or without the scope: retrying
        // cannot help (the server closes after an invalid one).
        const bool tokenless =
            rtcstream::signaller_settings (&self->parent).auth_token.empty ();
        give_up (self, "The signalling server " + setting_uri (self) + " refused to let this "
            "element " + (producer ? "publish '" : "watch '") + name + "': " + m->details +
            (tokenless ? " Set auth-token to a token this server takes."
                       : " Check auth-token (its scopes, its expiry)."),
            RTCSTREAM_SIGNALLER_ERROR_REFUSED);
        break;
      }
      default:
        // Errors about one message (e.g. ICE for a session that just ended)
        // are not fatal for the element.
        GST_WARNING_OBJECT (self, "server error: %s", m->details.c_str ());
        break;
    }
  }
}

void
on_ws_message (SoupWebsocketConnection *, gint type, GBytes *message, gpointer user)
{
  auto *self = RTCSTREAM_WS_SIGNALLER (user);
  if (self->state->phase == Phase::Stopped)
    return;
  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    GST_WARNING_OBJECT (self, "ignoring binary frame from server");
    return;
  }
  gsize len = 0;
  const char *data = static_cast<const char *> (g_bytes_get_data (message, &len));
  std::string_view text (data ? data : "", len);
  GST_TRACE_OBJECT (self, "<- %.*s", (int) len, data ? data : "");
  // The server is trusted more than a peer: a list of many producers may be
  // large. The frame size is bounded by the websocket limit set at connect.
  proto::Limits limits;
  limits.max_message_bytes = kMaxServerMessage;
  limits.max_meta_bytes = 64 * 1024;
  auto result = proto::parse_server_message (text, limits);
  if (!result.ok ()) {
    GST_WARNING_OBJECT (self, "invalid message from server (%s): %.*s",
        result.error.details.c_str (), (int) std::min<gsize> (len, 200), data ? data : "");
    return;
  }
  Ref<RtcstreamWsSignaller> keep = Ref<RtcstreamWsSignaller>::take_ref (self);
  handle_server_message (self, *result.message);
}

// Worker: the connection is lost for good (or reconnect-timeout is 0): the
// error, then the end of every session.
void
give_up (RtcstreamWsSignaller *self, const std::string &message, RtcstreamSignallerError code)
{
  State *st = self->state;
  st->phase = Phase::GaveUp;
  st->reconnecting = false;
  rtcstream::cancel_timer (&self->parent, st->retry_timer);
  rtcstream::cancel_timer (&self->parent, st->give_up_timer);
  std::set<std::string> ended;
  ended.swap (st->sessions);
  emit_error (&self->parent, code, message);
  for (const std::string &sid : ended)
    rtcstream_signaller_emit_session_ended (as_iface (self), sid.c_str ());
}

void
on_ws_closed (SoupWebsocketConnection *conn, gpointer user)
{
  auto *self = RTCSTREAM_WS_SIGNALLER (user);
  State *st = self->state;
  if (st->phase == Phase::Stopped || st->phase == Phase::GaveUp)
    return;
  gushort code = soup_websocket_connection_get_close_code (conn);
  const char *data = soup_websocket_connection_get_close_data (conn);
  // No close frame (the server died, the network went): soup says 0 or 1006.
  std::string why = code == 0 || code == SOUP_WEBSOCKET_CLOSE_ABNORMAL
      ? std::string ("closed without a close frame")
      : "code " + std::to_string (code) + (data && *data ? std::string (", ") + data : std::string ());
  st->ws.reset ();
  const std::string uri = setting_uri (self);
  const gint timeout = rtcstream::signaller_settings (&self->parent).reconnect_timeout_ms;
  if (timeout == 0) {
    give_up (self, "Lost the connection to the signalling server " + uri + " (" + why +
        "): check that rtcstream-signalling is still running (reconnect-timeout is 0: no "
        "reconnection)");
    return;
  }
  st->phase = Phase::Connecting;
  if (!st->reconnecting) {
    // The media of running sessions is peer to peer: they go on, and are
    // claimed again once back (back_in_touch). A consumer without one looks
    // for its producer again once back.
    st->reconnecting = true;
    st->attempts = 0;
    st->lost_at_us = g_get_monotonic_time ();
    st->lost_why = why;
    if (st->sessions.empty ())
      st->session_requested = false;
    if (timeout > 0) {
      st->give_up_timer = rtcstream::post_delayed (self, timeout,
          [uri, timeout] (RtcstreamWsSignaller *self) {
            State *st = self->state;
            st->give_up_timer = 0;
            if (!st->reconnecting)
              return;
            give_up (self, "Lost the connection to the signalling server " + uri + " (" +
                st->lost_why + ") and could not get back in touch within reconnect-timeout (" +
                std::to_string (timeout) + " ms, " + std::to_string (st->attempts) +
                " attempts): check that rtcstream-signalling is running, or raise "
                "reconnect-timeout (-1 tries forever)");
          });
    }
    emit_warning (&self->parent, RTCSTREAM_SIGNALLER_ERROR_DISCONNECTED,
        "Lost the connection to the signalling server " + uri + " (" + why + "): " +
        std::to_string (st->sessions.size ()) + " running session(s) go on; reconnecting" +
        (timeout > 0 ? " for up to " + std::to_string (timeout) + " ms (reconnect-timeout)"
                     : std::string (" until it is back (reconnect-timeout is -1)")));
  }
  schedule_reconnect (self);
}

void
on_ws_connected (GObject *source, GAsyncResult *res, gpointer user)
{
  // user holds a ref on self (released here).
  Ref<RtcstreamWsSignaller> self = Ref<RtcstreamWsSignaller>::adopt (RTCSTREAM_WS_SIGNALLER (user));
  g_autoptr (GError) err = nullptr;
  SoupWebsocketConnection *conn =
      soup_session_websocket_connect_finish (SOUP_SESSION (source), res, &err);
  State *st = self->state;
  if (st->phase != Phase::Connecting) {  // stopped, or gave up meanwhile
    if (conn)
      g_object_unref (conn);
    return;
  }
  if (!conn) {
    if (st->reconnecting) {
      GST_INFO_OBJECT (self.get (), "reconnection attempt %u failed: %s", st->attempts,
          err->message);
      schedule_reconnect (self.get ());
      return;
    }
    const bool tls = err->domain == G_TLS_ERROR;
    emit_error (&self->parent, RTCSTREAM_SIGNALLER_ERROR_UNREACHABLE,
        "Could not connect to the signalling server " + setting_uri (self.get ()) + ": " +
        err->message + (tls ? ". Its TLS certificate is not trusted: set tls-ca-file to the "
                              "certificate (or its CA) if you trust it"
                            : ". Is rtcstream-signalling running there?"));
    return;
  }
  GST_INFO_OBJECT (self.get (), "connected to %s", setting_uri (self.get ()).c_str ());
  st->ws = Ref<SoupWebsocketConnection>::adopt (conn);
  soup_websocket_connection_set_max_incoming_payload_size (conn, kMaxServerMessage);
  soup_websocket_connection_set_keepalive_interval (conn, 10);
  g_signal_connect (conn, "message", G_CALLBACK (on_ws_message), self.get ());
  g_signal_connect (conn, "closed", G_CALLBACK (on_ws_closed), self.get ());
}

// Worker: opens the websocket (the first time, and each reconnection).
void
connect_to_server (RtcstreamWsSignaller *self)
{
  State *st = self->state;
  std::string uri = setting_uri (self);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri.c_str ());
  if (!msg) {
    emit_error (&self->parent, RTCSTREAM_SIGNALLER_ERROR_UNREACHABLE,
        "Invalid signalling server address '" + uri + "'");
    return;
  }
  // The token, on the upgrade request (docs/protocol.md, "Tokens").
  const std::string token = rtcstream::signaller_settings (&self->parent).auth_token;
  if (!token.empty ())
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
        ("Bearer " + token).c_str ());
  GST_INFO_OBJECT (self, "connecting to %s", uri.c_str ());
  soup_session_websocket_connect_async (st->session.get (), msg, nullptr, nullptr,
      G_PRIORITY_DEFAULT, st->cancellable, on_ws_connected, g_object_ref (self));
}

// Worker, reconnecting: the next attempt, after the backoff.
void
schedule_reconnect (RtcstreamWsSignaller *self)
{
  State *st = self->state;
  rtcstream::cancel_timer (&self->parent, st->retry_timer);
  st->retry_timer = rtcstream::post_delayed (self, rtcstream::reconnect_delay_ms (st->attempts),
      [] (RtcstreamWsSignaller *self) {
        State *st = self->state;
        st->retry_timer = 0;
        if (st->phase != Phase::Connecting || !st->reconnecting)
          return;
        st->attempts++;
        connect_to_server (self);
      });
}

// The base's vfuncs, all on the worker thread.

void
ws_start (RtcstreamBaseSignaller *base_self)
{
  auto *self = RTCSTREAM_WS_SIGNALLER (base_self);
  State *st = self->state;
  st->phase = Phase::Connecting;
  st->session_requested = false;
  st->reconnecting = false;
  st->attempts = 0;
  std::string error;
  SoupSessionOptions options;
  options.tls_ca_file = rtcstream::signaller_settings (base_self).tls_ca_file;
  st->session = Ref<SoupSession>::adopt (make_soup_session (options, error));
  if (!st->session) {
    emit_error (base_self, RTCSTREAM_SIGNALLER_ERROR_UNREACHABLE, error);
    return;
  }
  st->cancellable = g_cancellable_new ();
  connect_to_server (self);
}

void
ws_stop (RtcstreamBaseSignaller *base_self)
{
  auto *self = RTCSTREAM_WS_SIGNALLER (base_self);
  State *st = self->state;
  st->phase = Phase::Stopped;
  st->reconnecting = false;
  rtcstream::cancel_timer (base_self, st->wait_timer);
  rtcstream::cancel_timer (base_self, st->retry_timer);
  rtcstream::cancel_timer (base_self, st->give_up_timer);
  if (st->cancellable) {
    g_cancellable_cancel (st->cancellable);
    g_clear_object (&st->cancellable);
  }
  if (st->ws) {
    g_signal_handlers_disconnect_by_data (st->ws.get (), self);
    if (soup_websocket_connection_get_state (st->ws.get ()) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (st->ws.get (), SOUP_WEBSOCKET_CLOSE_NORMAL, nullptr);
    st->ws.reset ();
  }
  st->sessions.clear ();
  st->participants.clear ();
  st->awaited.clear ();
  rtcstream::cancel_timer (base_self, st->awaited_timer);
  st->session.reset ();
}

void
ws_send_sdp (RtcstreamBaseSignaller *self, const gchar *session_id,
    const GstWebRTCSessionDescription *sdp)
{
  g_autofree gchar *text = gst_sdp_message_as_text (sdp->sdp);
  const char *type = sdp->type == GST_WEBRTC_SDP_TYPE_OFFER ? "offer" : "answer";
  send_message (RTCSTREAM_WS_SIGNALLER (self), proto::Peer{session_id, proto::Sdp{type, text}});
}

void
ws_add_ice (RtcstreamBaseSignaller *self, const gchar *session_id, guint mline,
    const gchar *candidate)
{
  if (!*candidate)
    return;  // end of candidates: nothing to send in our protocol
  send_message (RTCSTREAM_WS_SIGNALLER (self),
      proto::Peer{session_id, proto::Ice{candidate, mline}});
}

void
ws_end_session (RtcstreamBaseSignaller *base_self, const gchar *session_id)
{
  auto *self = RTCSTREAM_WS_SIGNALLER (base_self);
  if (self->state->sessions.erase (session_id))
    send_message (self, proto::EndSession{session_id});
}

}  // namespace

static void
rtcstream_ws_signaller_init (RtcstreamWsSignaller *self)
{
  self->state = rtcstream::make_signaller_state<State> (&self->parent);
}

static void
rtcstream_ws_signaller_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  auto *self = RTCSTREAM_WS_SIGNALLER (object);
  State *st = self->state;
  std::lock_guard<std::mutex> lk (st->lock);
  switch (prop_id) {
    case PROP_URI:
      st->uri = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_ROOM:
      st->room = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
rtcstream_ws_signaller_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  auto *self = RTCSTREAM_WS_SIGNALLER (object);
  State *st = self->state;
  std::lock_guard<std::mutex> lk (st->lock);
  switch (prop_id) {
    case PROP_URI:
      g_value_set_string (value, st->uri.c_str ());
      break;
    case PROP_PEER_ID:
      g_value_set_string (value, st->peer_id.empty () ? nullptr : st->peer_id.c_str ());
      break;
    case PROP_ROOM:
      g_value_set_string (value, st->room.empty () ? nullptr : st->room.c_str ());
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
rtcstream_ws_signaller_class_init (RtcstreamWsSignallerClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  gobject_class->set_property = rtcstream_ws_signaller_set_property;
  gobject_class->get_property = rtcstream_ws_signaller_get_property;

  RtcstreamBaseSignallerClass *base_class = RTCSTREAM_BASE_SIGNALLER_CLASS (klass);
  base_class->worker_name = "rtcstream-ws";
  base_class->debug_category = rtcstream_ws_signaller_debug;
  base_class->start = ws_start;
  base_class->stop = ws_stop;
  base_class->send_sdp = ws_send_sdp;
  base_class->add_ice = ws_add_ice;
  base_class->end_session = ws_end_session;
  base_class->get_features = [] (RtcstreamBaseSignaller *) {
    return RTCSTREAM_SIGNALLER_FEATURE_ANNOUNCES_ICE_SERVERS;
  };

  g_object_class_install_property (gobject_class, PROP_URI,
      g_param_spec_string ("uri", "URI",
          "Websocket address of the signalling server (ws://HOST:PORT/ws or wss://...)",
          "ws://127.0.0.1:8443/ws",
          (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (gobject_class, PROP_PEER_ID,
      g_param_spec_string ("peer-id", "Peer id",
          "The id the server assigned to this connection (null before welcome)",
          nullptr, (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (gobject_class, PROP_ROOM,
      g_param_spec_string ("room", "Room",
          "Producer: the room to take part in (docs/protocol.md, Rooms; the stream name must "
          "then be ROOM:PARTICIPANT). The signaller emits participant-joined and "
          "participant-left for the others in it. Null: no room",
          nullptr, (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));

  /**
   * RtcstreamWsSignaller::participant-joined:
   * @peer_id: the participant's peer id
   * @stream_name: its stream (ROOM:PARTICIPANT)
   *
   * Another participant is in the room (at joining, for each one already
   * there; then for each newcomer). Emitted on the signaller's thread.
   */
  signals[SIGNAL_PARTICIPANT_JOINED] = g_signal_new ("participant-joined",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
      G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * RtcstreamWsSignaller::participant-left:
   * @peer_id: the participant's peer id
   * @stream_name: its stream (ROOM:PARTICIPANT)
   *
   * A participant left the room. Emitted on the signaller's thread.
   */
  signals[SIGNAL_PARTICIPANT_LEFT] = g_signal_new ("participant-left",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
      G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

RtcstreamWsSignaller *
rtcstream_ws_signaller_new (const gchar *uri)
{
  return RTCSTREAM_WS_SIGNALLER (g_object_new (RTCSTREAM_TYPE_WS_SIGNALLER, "uri", uri, nullptr));
}
