// SPDX-License-Identifier: LGPL-2.1-or-later
//
// RtcstreamJanusSignaller in the VideoRoom: a producer checks that its
// display name is free, joins as a publisher and offers; a consumer looks for
// the publisher with its display name, subscribes to it and answers, then
// watches that the publisher stays. Also the room's events on our handle.
// Threads: all on the signaller's worker thread.
#include "janus-signaller-private.h"

#include <string>

#include "janus-api.h"

#define GST_CAT_DEFAULT rtcstream_janus_signaller_debug

namespace api = rtcstream::janus;

namespace rtcstream::janus_signaller {

namespace {

constexpr guint kListIntervalMs = 500;     // consumer: looking for the publisher
constexpr guint kWatchIntervalMs = 1000;   // consumer: is the publisher still there

void
emit_description (Self *self, const json &jsep)
{
  State *st = self->state;
  GstWebRTCSessionDescription *desc = api::make_description (jsep);
  if (!desc) {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_PROTOCOL,
        "Janus sent an unusable SDP for " + where (self));
    return;
  }
  rtcstream_signaller_emit_session_description (as_iface (self), st->session_id.c_str (), desc);
  gst_webrtc_session_description_free (desc);
}

// --- producer -------------------------------------------------------------------

void
join_as_publisher (Self *self)
{
  State *st = self->state;
  json body = {{"request", "join"}, {"ptype", "publisher"},
      {"room", api::room_value (st->cfg.room)}, {"display", st->cfg.name ()}};
  if (!st->cfg.pin.empty ())
    body["pin"] = st->cfg.pin;
  st->phase = Phase::Joining;
  send_message (self, std::move (body), nullptr, "join as publisher");
}

// The join is answered by an event ("joined"); we then offer.
void
on_publisher_joined (Self *self, const json &data)
{
  State *st = self->state;
  st->phase = Phase::Joined;
  st->session_id = "janus-" + std::to_string (st->handle);
  GST_INFO_OBJECT (self, "joined %s as publisher %s (id %s)", where (self).c_str (),
      st->cfg.name ().c_str (), data.value ("id", json ()).dump ().c_str ());
  rtcstream_signaller_emit_registered (as_iface (self));
  rtcstream_signaller_emit_session_requested (as_iface (self), st->session_id.c_str (),
      "janus", nullptr);
}

// --- consumer -------------------------------------------------------------------

void
subscribe (Self *self, guint64 feed)
{
  State *st = self->state;
  st->feed = feed;
  st->phase = Phase::Joining;
  json body = {{"request", "join"}, {"ptype", "subscriber"},
      {"room", api::room_value (st->cfg.room)}, {"streams", json::array ({{{"feed", feed}}})}};
  if (!st->cfg.pin.empty ())
    body["pin"] = st->cfg.pin;
  GST_INFO_OBJECT (self, "subscribing to publisher %" G_GUINT64_FORMAT " ('%s')", feed,
      st->cfg.name ().c_str ());
  send_message (self, std::move (body), nullptr, "subscribe");
}

void
schedule_list (Self *self, guint delay_ms)
{
  State *st = self->state;
  rtcstream::cancel_timer (&self->parent, st->list_timer);
  st->list_timer = rtcstream::post_delayed (self, delay_ms, [] (Self *self) {
    self->state->list_timer = 0;
    if (self->state->phase != Phase::Stopped)
      list_participants (self);
  });
}

void
on_participants (Self *self, const json &data)
{
  State *st = self->state;
  const std::string name = st->cfg.name ();
  bool name_used = false;
  guint64 feed = api::find_publisher (data, name, &name_used);

  if (st->cfg.role == RTCSTREAM_ROLE_PRODUCER) {
    if (name_used) {
      fail (self, RTCSTREAM_SIGNALLER_ERROR_NAME_TAKEN,
          "Display name '" + name + "' is already in use in " + where (self) +
          ": choose another display= in the URI, or stop the other publisher");
      return;
    }
    join_as_publisher (self);
    return;
  }

  if (st->phase == Phase::Joined) {
    // Watching our publisher: is it still publishing?
    if (api::find_publisher (data, name, nullptr) != st->feed) {
      end_session (self, "the publisher left the room");
      return;
    }
    schedule_list (self, kWatchIntervalMs);
    return;
  }
  if (st->phase != Phase::Connecting)
    return;
  if (feed) {
    subscribe (self, feed);
    return;
  }
  const gint timeout = st->cfg.producer_timeout_ms;
  if (timeout == 0 || (st->wait_deadline && g_get_monotonic_time () >= st->wait_deadline)) {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_NOT_FOUND,
        "No publisher named '" + name + "' " +
        (timeout == 0 ? std::string ("is in ") : "appeared within " +
            std::to_string (timeout) + " ms in ") + where (self) +
        ": check display= in the URI, start the publisher, or raise producer-timeout");
    return;
  }
  if (timeout > 0 && !st->wait_deadline)
    st->wait_deadline = g_get_monotonic_time () + (gint64) timeout * 1000;
  GST_DEBUG_OBJECT (self, "no publisher '%s' yet, looking again", name.c_str ());
  schedule_list (self, kListIntervalMs);
}

}  // namespace

void
list_participants (Self *self)
{
  json body = {{"request", "listparticipants"}, {"room", api::room_value (self->state->cfg.room)}};
  send_message (self, std::move (body), nullptr, "list the participants",
      [] (Self *self, const json *reply, const std::string &) {
        const json *data = api::plugin_data (*reply);
        if (!data || data->value ("videoroom", "") != "participants") {
          fail (self, RTCSTREAM_SIGNALLER_ERROR_PROTOCOL,
              "Janus did not list the participants of " + where (self) +
              ": is janus.plugin.videoroom loaded?");
          return;
        }
        on_participants (self, *data);
      });
}

void
on_videoroom_event (Self *self, const json &data, const json *jsep)
{
  State *st = self->state;
  const std::string kind = data.value ("videoroom", "");
  if (data.contains ("error_code")) {
    fail_with_janus_error (self,
        st->cfg.role == RTCSTREAM_ROLE_PRODUCER ? "publish" : "subscribe",
        data.value ("error_code", (gint64) 0), data.value ("error", ""));
    return;
  }
  if (st->cfg.role == RTCSTREAM_ROLE_PRODUCER) {
    if (kind == "joined" && st->phase == Phase::Joining) {
      on_publisher_joined (self, data);
    } else if (jsep && !st->session_id.empty ()) {
      emit_description (self, *jsep);
    }
    return;
  }
  if (kind == "attached" && jsep && st->phase == Phase::Joining) {
    st->phase = Phase::Joined;
    st->session_id = "janus-" + std::to_string (st->handle);
    std::string peer = "janus-" + std::to_string (st->feed);
    rtcstream_signaller_emit_session_started (as_iface (self), st->session_id.c_str (),
        peer.c_str ());
    emit_description (self, *jsep);
    // From now on, look out for the publisher leaving.
    schedule_list (self, kWatchIntervalMs);
    return;
  }
  if (st->session_id.empty ())
    return;
  // Ways Janus tells a subscriber its feed is gone, depending on how it left.
  auto same_feed = [st] (const json &v) {
    return v.is_number_unsigned () && v.get<guint64> () == st->feed;
  };
  if ((data.contains ("unpublished") && same_feed (data["unpublished"])) ||
      (data.contains ("leaving") && same_feed (data["leaving"])) ||
      (kind == "event" && data.value ("left", "") == "ok")) {
    end_session (self, "the publisher left");
  }
}

}  // namespace rtcstream::janus_signaller
