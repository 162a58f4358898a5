// SPDX-License-Identifier: LGPL-2.1-or-later
#include "whip-session.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "ice-servers.h"

GST_DEBUG_CATEGORY_STATIC (whip_session_debug);
#define GST_CAT_DEFAULT whip_session_debug

namespace rtcstream::signalling {

namespace {

template <typename Fn>
gulong
connect (gpointer instance, const char *signal, Fn handler, const WhipSessionPtr &res)
{
  return g_signal_connect_data (instance, signal, G_CALLBACK (handler),
      whip_session_hold (res), [] (gpointer data, GClosure *) { whip_session_drop (data); },
      static_cast<GConnectFlags> (0));
}

std::string
escaped (const std::string &name)
{
  g_autofree char *e = g_uri_escape_string (name.c_str (), nullptr, FALSE);
  return e;
}

// Runs fn on the owner's main context with the session, unless the owner
// ended it meanwhile. Callable from any thread.
void
on_main (const WhipSessionPtr &res, std::function<void (const WhipSessionPtr &)> fn)
{
  struct Job {
    WhipSessionPtr res;
    std::function<void (const WhipSessionPtr &)> fn;
  };
  g_main_context_invoke_full (res->owner->context (), G_PRIORITY_DEFAULT,
      [] (gpointer data) -> gboolean {
        auto *job = static_cast<Job *> (data);
        if (job->res->alive)
          job->fn (job->res);
        return G_SOURCE_REMOVE;
      }, new Job{ res, std::move (fn) }, [] (gpointer data) { delete static_cast<Job *> (data); });
}

// Main: tells the owner once the answer is made (and, for WHIP, once the
// stream is listed, so that a viewer or WHEP player that comes right after
// the 201 finds it).
void
check_answer (const WhipSessionPtr &res)
{
  if (res->answer_sent || res->answer.empty () || (!res->whep && !res->registered))
    return;
  res->answer_sent = true;
  GST_INFO ("session %s answered", res->id.c_str ());
  res->owner->answered (res, res->answer);
}

GstElement *
make (const char *factory, const char *name, std::string &error)
{
  GstElement *e = gst_element_factory_make (factory, name);
  if (!e && error.empty ())
    error = std::string ("Could not create ") + factory + ": its plugin failed to load "
        "(see the server log; check GST_PLUGIN_PATH).";
  return e;
}

// The session's own STUN/TURN servers on the element that makes its WebRTC
// session.
void
set_ice_servers (const WhipSessionPtr &res, GstElement *element)
{
  const WebrtcbinIceUris uris = webrtcbin_ice_uris (res->ice_servers);
  if (!uris.stun.empty ())
    g_object_set (element, "stun-server", uris.stun.c_str (), nullptr);
  if (uris.turn.empty ())
    return;
  GValue turn = G_VALUE_INIT;
  gst_value_array_init (&turn, 0);
  for (const std::string &uri : uris.turn) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, uri.c_str ());
    gst_value_array_append_and_take_value (&turn, &v);
  }
  g_object_set_property (G_OBJECT (element), "turn-servers", &turn);
  g_value_unset (&turn);
}

// The signaller that hands the client's offer to the element that answers
// it, and the answer (with our candidates) back to the owner.
RtcstreamAppSignaller *
make_signaller (const WhipSessionPtr &res)
{
  auto *sig = RTCSTREAM_APP_SIGNALLER (g_object_new (RTCSTREAM_TYPE_APP_SIGNALLER, "role",
      res->whep ? RTCSTREAM_ROLE_PRODUCER : RTCSTREAM_ROLE_CONSUMER, "media-only", TRUE,
      nullptr));
  connect (sig, "answer", +[] (RtcstreamAppSignaller *, const char *, const char *sdp,
      gpointer data) {
    std::string text = sdp;
    on_main (whip_session_held (data), [text] (const WhipSessionPtr &r) {
      r->answer = text;
      check_answer (r);
    });
  }, res);
  connect (sig, "ended", +[] (RtcstreamAppSignaller *, const char *, gpointer data) {
    on_main (whip_session_held (data), [] (const WhipSessionPtr &r) {
      r->owner->ended (r, SOUP_STATUS_BAD_GATEWAY, r->answer.empty ()
          ? "The media session could not be set up; see the server log."
          : "The media session ended.");
    });
  }, res);
  return sig;
}

void
watch_bus (const WhipSessionPtr &res)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (res->pipeline.get ());
  res->bus_watch = gst_bus_add_watch_full (bus, G_PRIORITY_DEFAULT,
      [] (GstBus *, GstMessage *message, gpointer data) -> gboolean {
        WhipSessionPtr r = whip_session_held (data);
        if (!r->alive)
          return G_SOURCE_CONTINUE;
        if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
          g_autoptr (GError) err = nullptr;
          g_autofree char *dbg = nullptr;
          gst_message_parse_error (message, &err, &dbg);
          GST_WARNING ("session %s: %s (%s)", r->id.c_str (), err->message, dbg ? dbg : "");
          const bool taken = !r->whep && std::strstr (err->message, "taken");
          r->owner->ended (r, taken ? SOUP_STATUS_CONFLICT : SOUP_STATUS_BAD_GATEWAY,
              std::string ("The media pipeline failed: ") + err->message);
        } else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_EOS && r->whep) {
          // The producer ended; rtcstreamsink, once its RTCP BYE told the
          // player (WHEP has no other way), ended the session and posted EOS.
          r->owner->ended (r, SOUP_STATUS_NOT_FOUND, "The stream ended.");
        } else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ELEMENT &&
            gst_message_has_name (message, "rtcstream-registered")) {
          r->registered = true;
          check_answer (r);
        } else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_WARNING) {
          g_autoptr (GError) err = nullptr;
          gst_message_parse_warning (message, &err, nullptr);
          g_printerr ("%s session %s (%s): warning: %s\n", r->whep ? "WHEP" : "WHIP",
              r->id.c_str (), r->name.c_str (), err->message);
        }
        return G_SOURCE_CONTINUE;
      }, whip_session_hold (res), whip_session_drop);
}

// A capsfilter of the encoded caps of an offered media's codecs, linked to
// a new request pad of the sink: the route of that media.
GstElement *
make_route (const WhipSessionPtr &res, std::size_t media, GstElement *sink, std::string &error)
{
  const OfferMedia &m = res->offer.media[media];
  GstCaps *caps = gst_caps_new_empty ();
  for (const CodecChoice &c : m.choices)
    caps = gst_caps_merge (caps, gst_caps_from_string (c.codec->encoded_caps));
  GstElement *filter = make ("capsfilter", nullptr, error);
  if (!filter) {
    gst_caps_unref (caps);
    return nullptr;
  }
  g_object_set (filter, "caps", caps, nullptr);
  gst_caps_unref (caps);
  gst_bin_add (GST_BIN (res->pipeline.get ()), filter);
  g_autoptr (GstPad) sinkpad = gst_element_request_pad_simple (sink,
      m.kind == MediaKind::Video ? "video_%u" : "audio_%u");
  g_autoptr (GstPad) srcpad = gst_element_get_static_pad (filter, "src");
  if (!sinkpad || gst_pad_link (srcpad, sinkpad) != GST_PAD_LINK_OK) {
    error = "Could not link the stream to rtcstreamsink.";
    return nullptr;
  }
  gst_element_sync_state_with_parent (filter);
  // WHEP: rtcstreamsink starts once every route exists (it needs its inputs
  // when it starts); until then the route holds what comes.
  const gulong block = !res->whep ? 0 : gst_pad_add_probe (srcpad,
      GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM, [] (GstPad *, GstPadProbeInfo *, gpointer)
          -> GstPadProbeReturn { return GST_PAD_PROBE_OK; }, nullptr, nullptr);
  std::lock_guard<std::mutex> lk (res->lock);
  res->routes.push_back ({ media, filter, false, block });
  return filter;
}

// rtcstreamsrc's thread, inside gst_element_add_pad: links the new pad to
// the first free route of its kind. A pad without one stays unlinked and
// rtcstreamsrc drops its data.
void
on_src_pad (const WhipSessionPtr &res, GstPad *pad)
{
  const MediaKind kind = g_str_has_prefix (GST_PAD_NAME (pad), "audio")
      ? MediaKind::Audio : MediaKind::Video;
  GstElement *filter = nullptr;
  {
    std::lock_guard<std::mutex> lk (res->lock);
    for (WhipRoute &r : res->routes) {
      if (!r.linked && res->offer.media[r.media].kind == kind) {
        r.linked = true;
        filter = r.filter;
        break;
      }
    }
  }
  if (!filter) {
    GST_INFO ("session %s: no route for %s", res->id.c_str (), GST_PAD_NAME (pad));
    return;
  }
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (filter, "sink");
  if (gst_pad_link (pad, sinkpad) != GST_PAD_LINK_OK)
    GST_WARNING ("session %s: could not link %s", res->id.c_str (), GST_PAD_NAME (pad));
}

// Main: hands the client's offer to the element that answers it.
void
offer (const WhipSessionPtr &res)
{
  GstSDPMessage *sdp = nullptr;
  gst_sdp_message_new_from_text (res->offer_text.c_str (), &sdp);
  GstWebRTCSessionDescription *desc =
      gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  res->offered = true;
  rtcstream_app_signaller_offer (res->signaller.get (), res->id.c_str (),
      ((res->whep ? "whep-" : "whip-") + res->id).c_str (), desc);
  gst_webrtc_session_description_free (desc);
}

// Builds rtcstreamsrc ! capsfilter.. ! rtcstreamsink and starts it; the
// routes of WHIP exist before the offer is answered, those of WHEP are made
// when the stream's pads appear. Returns 0, or an HTTP status and `error`.
guint
start (const WhipSessionPtr &res, std::string &error)
{
  res->pipeline = Ref<GstElement>::adopt (GST_ELEMENT (gst_object_ref_sink (
      gst_pipeline_new (((res->whep ? "whep-" : "whip-") + res->id).c_str ()))));
  GstElement *src = make ("rtcstreamsrc", "src", error);
  GstElement *sink = make ("rtcstreamsink", "sink", error);
  if (!src || !sink) {
    if (src)
      gst_object_unref (gst_object_ref_sink (src));
    if (sink)
      gst_object_unref (gst_object_ref_sink (sink));
    return SOUP_STATUS_SERVICE_UNAVAILABLE;
  }
  gst_bin_add_many (GST_BIN (res->pipeline.get ()), src, sink, nullptr);
  res->signaller = Ref<RtcstreamAppSignaller>::adopt (make_signaller (res));
  // The element on our side of the client's session, and the one on the
  // hub's side (which reaches this server like any pipeline).
  GstElement *client_side = res->whep ? sink : src;
  GstElement *hub_side = res->whep ? src : sink;
  g_object_set (client_side, "signaller", res->signaller.get (), nullptr);
  set_ice_servers (res, client_side);
  if (res->relay_only)
    gst_util_set_object_arg (G_OBJECT (client_side), "ice-transport-policy", "relay");
  g_object_set (hub_side, "uri", (res->local_uri + escaped (res->name)).c_str (), nullptr);
  if (!res->tls_ca_file.empty ())
    g_object_set (hub_side, "tls-ca-file", res->tls_ca_file.c_str (), nullptr);
  if (!res->auth_token.empty ())
    g_object_set (hub_side, "auth-token", res->auth_token.c_str (), nullptr);
  if (res->whep) {
    gst_element_set_locked_state (sink, TRUE);  // until its inputs exist
    // What the player takes, in its order, is what the producer may send.
    for (MediaKind kind : { MediaKind::Video, MediaKind::Audio }) {
      std::vector<const Codec *> codecs;
      for (const OfferMedia &m : res->offer.media)
        for (const CodecChoice &c : m.choices)
          if (m.kind == kind && std::find (codecs.begin (), codecs.end (), c.codec) ==
              codecs.end ())
            codecs.push_back (c.codec);
      if (!codecs.empty ())
        g_object_set (src, kind == MediaKind::Video ? "video-codecs" : "audio-codecs",
            codec_list_to_string (codecs).c_str (), nullptr);
    }
    connect (src, "no-more-pads", +[] (GstElement *, gpointer data) {
      on_main (whip_session_held (data), [] (const WhipSessionPtr &r) {
        std::vector<WhipRoute> routes;
        {
          std::lock_guard<std::mutex> lk (r->lock);
          routes = r->routes;
        }
        if (routes.empty ()) {
          r->owner->ended (r, SOUP_STATUS_NOT_ACCEPTABLE,
              "The stream has no media of a kind and codec your offer receives.");
          return;
        }
        if (r->offered)
          return;
        // Every route exists: the sink starts, the routes open.
        g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (r->pipeline.get ()),
            "sink");
        gst_element_set_locked_state (sink, FALSE);
        if (!gst_element_sync_state_with_parent (sink)) {
          r->owner->ended (r, SOUP_STATUS_INTERNAL_SERVER_ERROR,
              "The sending side could not start; see the server log.");
          return;
        }
        for (const WhipRoute &route : routes) {
          g_autoptr (GstPad) srcpad = gst_element_get_static_pad (route.filter, "src");
          gst_pad_remove_probe (srcpad, route.block);
        }
        offer (r);
      });
    }, res);
  } else {
    for (std::size_t i = 0; i < res->offer.media.size (); i++)
      if (!res->offer.media[i].choices.empty () && !make_route (res, i, sink, error))
        return SOUP_STATUS_INTERNAL_SERVER_ERROR;
  }
  connect (src, "pad-added", +[] (GstElement *, GstPad *pad, gpointer data) {
    WhipSessionPtr r = whip_session_held (data);
    if (r->whep) {
      // The first offered media of the pad's kind that no route serves yet.
      const MediaKind kind = g_str_has_prefix (GST_PAD_NAME (pad), "audio")
          ? MediaKind::Audio : MediaKind::Video;
      std::size_t media = r->offer.media.size ();
      {
        std::lock_guard<std::mutex> lk (r->lock);
        for (std::size_t i = 0; i < r->offer.media.size () && media == r->offer.media.size ();
            i++) {
          bool used = false;
          for (const WhipRoute &route : r->routes)
            used = used || route.media == i;
          if (!used && r->offer.media[i].kind == kind && !r->offer.media[i].choices.empty ())
            media = i;
        }
      }
      g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (r->pipeline.get ()), "sink");
      std::string error;
      if (media == r->offer.media.size () || !make_route (r, media, sink, error)) {
        if (!error.empty ())
          GST_WARNING ("session %s: %s", r->id.c_str (), error.c_str ());
        return;  // the player did not ask for it; rtcstreamsrc drops it
      }
    }
    on_src_pad (r, pad);
  }, res);
  // The client's WebRTC connection: the webrtcbin that the client-side
  // element makes. Once it connects, the owner's connect deadline is met.
  connect (res->pipeline.get (), "deep-element-added", +[] (GstBin *, GstBin *,
      GstElement *element, gpointer data) {
    const WhipSessionPtr &r = whip_session_held (data);
    GstElementFactory *factory = gst_element_get_factory (element);
    if (!factory || g_strcmp0 (GST_OBJECT_NAME (factory), "webrtcbin") != 0)
      return;
    g_autoptr (GstElement) client_side = gst_bin_get_by_name (GST_BIN (r->pipeline.get ()),
        r->whep ? "sink" : "src");
    if (!client_side || !gst_object_has_as_ancestor (GST_OBJECT (element),
        GST_OBJECT (client_side)))
      return;
    connect (element, "notify::connection-state", +[] (GstElement *webrtc, GParamSpec *,
        gpointer d) {
      GstWebRTCPeerConnectionState state;
      g_object_get (webrtc, "connection-state", &state, nullptr);
      if (state != GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED)
        return;
      on_main (whip_session_held (d), [] (const WhipSessionPtr &rr) {
        if (rr->connected)
          return;
        rr->connected = true;
        g_printerr ("%s session %s connected\n", rr->whep ? "WHEP" : "WHIP", rr->id.c_str ());
      });
    }, r);
  }, res);
  watch_bus (res);
  if (gst_element_set_state (res->pipeline.get (), GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    error = "The media pipeline could not start; see the server log.";
    return SOUP_STATUS_INTERNAL_SERVER_ERROR;
  }
  if (!res->whep)
    offer (res);
  return 0;
}

}  // namespace

gpointer
whip_session_hold (const WhipSessionPtr &session)
{
  return new WhipSessionPtr (session);
}

void
whip_session_drop (gpointer data)
{
  delete static_cast<WhipSessionPtr *> (data);
}

const WhipSessionPtr &
whip_session_held (gpointer data)
{
  return *static_cast<WhipSessionPtr *> (data);
}

guint
whip_session_start (const WhipSessionPtr &session, std::string &error)
{
  static gsize init = 0;
  if (g_once_init_enter (&init)) {
    GST_DEBUG_CATEGORY_INIT (whip_session_debug, "rtcstream-whip-server", 0,
        "rtcstream-signalling WHIP/WHEP sessions");
    g_once_init_leave (&init, 1);
  }
  return start (session, error);
}

void
whip_session_add_candidates (const WhipSessionPtr &session,
    const std::vector<std::pair<guint, std::string>> &candidates)
{
  if (!session->signaller)
    return;
  for (const auto &[mline, cand] : candidates)
    rtcstream_app_signaller_add_remote_ice (session->signaller.get (), session->id.c_str (),
        mline, cand.c_str ());
}

GstElement *
whip_session_release (WhipSession &session)
{
  if (session.bus_watch)
    g_source_remove (session.bus_watch);
  session.bus_watch = 0;
  // The signaller's handlers hold the session: the signaller goes with the
  // pipeline's elements, which hold it too.
  if (session.signaller)
    rtcstream_app_signaller_end (session.signaller.get (), session.id.c_str ());
  session.signaller.reset ();
  return session.pipeline.release ();
}

}  // namespace rtcstream::signalling
