// SPDX-License-Identifier: LGPL-2.1-or-later
#include "rtcstream/datachannel.h"

#include <gst/video/navigation.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <utility>

GST_DEBUG_CATEGORY_STATIC (rtcstream_dc_debug);
#define GST_CAT_DEFAULT rtcstream_dc_debug

namespace rtcstream {

namespace {

void
ensure_debug ()
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (rtcstream_dc_debug, "rtcstream-datachannel", 0,
        "rtcstream data channels and navigation messages");
    g_once_init_leave (&once, 1);
  }
}

// What a signal handler needs; freed when its closure is finalized, which is
// after any emission running at disconnect time has returned.
struct HandlerCtx {
  std::weak_ptr<DataChannels *> owner;
  std::weak_ptr<Worker> worker;
  std::string session;
  std::string label;
  // Whether the channel's opening was announced: by on-open, or by track()
  // for a channel already open; whichever comes first (they race when it
  // opens while being tracked), once.
  std::shared_ptr<std::atomic<bool>> announced;
};

void
free_ctx (gpointer data, GClosure *)
{
  delete static_cast<HandlerCtx *> (data);
}

}  // namespace

struct DataChannels::Channel {
  std::string label;
  Ref<GstWebRTCDataChannel> channel;
  std::vector<gulong> handlers;
};

DataChannels::DataChannels (std::shared_ptr<Worker> worker, Handlers handlers)
    : worker_ (std::move (worker)), handlers_ (std::move (handlers)),
      alive_ (std::make_shared<DataChannels *> (this))
{
  ensure_debug ();
}

DataChannels::~DataChannels ()
{
  clear ();
  alive_.reset ();
}

bool
DataChannels::create (const std::string &session, GstElement *webrtcbin, const char *label)
{
  GstStructure *opts = gst_structure_new ("options", "ordered", G_TYPE_BOOLEAN, TRUE, nullptr);
  GstWebRTCDataChannel *ch = nullptr;
  g_signal_emit_by_name (webrtcbin, "create-data-channel", label, opts, &ch);
  gst_structure_free (opts);
  if (!ch) {
    GST_WARNING ("session %s: webrtcbin would not create data channel %s", session.c_str (),
        label);
    return false;
  }
  track (session, ch);
  gst_object_unref (ch);
  return true;
}

void
DataChannels::adopt (const std::string &session, GstWebRTCDataChannel *channel)
{
  track (session, channel);
}

void
DataChannels::track (const std::string &session, GstWebRTCDataChannel *ch)
{
  auto c = std::make_unique<Channel> ();
  gchar *label = nullptr;
  g_object_get (ch, "label", &label, nullptr);
  c->label = label ? label : "";
  g_free (label);
  c->channel = Ref<GstWebRTCDataChannel>::take_ref (ch);
  auto announced = std::make_shared<std::atomic<bool>> (false);
  auto connect = [&] (const char *signal, GCallback cb) {
    auto *ctx = new HandlerCtx{alive_, worker_, session, c->label, announced};
    c->handlers.push_back (g_signal_connect_data (ch, signal, cb, ctx, free_ctx,
        (GConnectFlags) 0));
  };
  connect ("on-open", G_CALLBACK (on_open));
  connect ("on-message-string", G_CALLBACK (on_string));
  connect ("on-message-data", G_CALLBACK (on_data));
  GST_INFO ("session %s: data channel \"%s\"", session.c_str (), c->label.c_str ());

  GstWebRTCDataChannelState state;
  g_object_get (ch, "ready-state", &state, nullptr);
  bool open_now = state == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN && c->label == kDataChannelLabel;
  {
    std::lock_guard<std::mutex> lk (lock_);
    channels_.emplace (session, std::move (c));
  }
  if (open_now && !announced->exchange (true)) {
    // Announced by the remote side already open: on-open will not come.
    std::weak_ptr<DataChannels *> owner = alive_;
    worker_->post ([owner, session] {
      if (auto o = owner.lock ())
        if ((*o)->handlers_.opened)
          (*o)->handlers_.opened (session);
    });
  }
}

void
DataChannels::remove_session (const std::string &session)
{
  std::vector<std::unique_ptr<Channel>> gone;
  {
    std::lock_guard<std::mutex> lk (lock_);
    auto range = channels_.equal_range (session);
    for (auto it = range.first; it != range.second; ++it)
      gone.push_back (std::move (it->second));
    channels_.erase (range.first, range.second);
  }
  for (auto &c : gone)
    for (gulong id : c->handlers)
      g_signal_handler_disconnect (c->channel.get (), id);
}

void
DataChannels::clear ()
{
  std::vector<std::string> sessions;
  {
    std::lock_guard<std::mutex> lk (lock_);
    for (auto &kv : channels_)
      sessions.push_back (kv.first);
  }
  for (auto &s : sessions)
    remove_session (s);
}

guint
DataChannels::send (const std::string &session, const char *label,
    const std::function<void (GstWebRTCDataChannel *)> &fn)
{
  std::vector<Ref<GstWebRTCDataChannel>> targets;
  {
    std::lock_guard<std::mutex> lk (lock_);
    for (auto &kv : channels_) {
      if ((!session.empty () && kv.first != session) || kv.second->label != label)
        continue;
      GstWebRTCDataChannelState state;
      g_object_get (kv.second->channel.get (), "ready-state", &state, nullptr);
      if (state == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN)
        targets.push_back (kv.second->channel);
    }
  }
  for (auto &t : targets)
    fn (t.get ());
  return targets.size ();
}

guint
DataChannels::send_text (const std::string &session, const std::string &text)
{
  return send (session, kDataChannelLabel, [&] (GstWebRTCDataChannel *ch) {
    GError *err = nullptr;
    if (!gst_webrtc_data_channel_send_string_full (ch, text.c_str (), &err)) {
      GST_WARNING ("could not send a text message: %s", err ? err->message : "?");
      g_clear_error (&err);
    }
  });
}

guint
DataChannels::send_binary (const std::string &session, GBytes *bytes)
{
  return send (session, kDataChannelLabel, [&] (GstWebRTCDataChannel *ch) {
    GError *err = nullptr;
    if (!gst_webrtc_data_channel_send_data_full (ch, bytes, &err)) {
      GST_WARNING ("could not send a binary message: %s", err ? err->message : "?");
      g_clear_error (&err);
    }
  });
}

guint
DataChannels::send_input (const std::string &text)
{
  return send ({}, kInputChannelLabel, [&] (GstWebRTCDataChannel *ch) {
    GError *err = nullptr;
    if (!gst_webrtc_data_channel_send_string_full (ch, text.c_str (), &err))
      g_clear_error (&err);  // a navigation event lost is not worth a warning per event
  });
}

std::vector<std::string>
DataChannels::open_sessions () const
{
  std::vector<std::string> out;
  std::lock_guard<std::mutex> lk (lock_);
  for (auto &kv : channels_) {
    if (kv.second->label != kDataChannelLabel)
      continue;
    GstWebRTCDataChannelState state;
    g_object_get (kv.second->channel.get (), "ready-state", &state, nullptr);
    if (state == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN)
      out.push_back (kv.first);
  }
  return out;
}

// --- handlers: SCTP threads -> worker ------------------------------------------------

void
DataChannels::on_open (GstWebRTCDataChannel *, gpointer data)
{
  auto *ctx = static_cast<HandlerCtx *> (data);
  if (ctx->label != kDataChannelLabel || ctx->announced->exchange (true))
    return;
  std::shared_ptr<Worker> worker = ctx->worker.lock ();
  if (!worker)
    return;
  std::weak_ptr<DataChannels *> owner = ctx->owner;
  std::string session = ctx->session;
  worker->post ([owner, session] {
    if (auto o = owner.lock ())
      if ((*o)->handlers_.opened)
        (*o)->handlers_.opened (session);
  });
}

void
DataChannels::on_string (GstWebRTCDataChannel *, const gchar *text, gpointer data)
{
  auto *ctx = static_cast<HandlerCtx *> (data);
  std::shared_ptr<Worker> worker = ctx->worker.lock ();
  if (!worker || !text)
    return;
  std::weak_ptr<DataChannels *> owner = ctx->owner;
  std::string session = ctx->session, label = ctx->label, t = text;
  worker->post ([owner, session, label, t] {
    auto o = owner.lock ();
    if (!o)
      return;
    const Handlers &h = (*o)->handlers_;
    if (label == kInputChannelLabel) {
      if (h.input)
        h.input (session, t);
    } else if (label == kDataChannelLabel && h.message) {
      h.message (session, &t, nullptr);
    }
  });
}

void
DataChannels::on_data (GstWebRTCDataChannel *, GBytes *bytes, gpointer data)
{
  auto *ctx = static_cast<HandlerCtx *> (data);
  std::shared_ptr<Worker> worker = ctx->worker.lock ();
  if (!worker || !bytes || ctx->label != kDataChannelLabel)
    return;
  std::weak_ptr<DataChannels *> owner = ctx->owner;
  std::string session = ctx->session;
  std::shared_ptr<GBytes> b (g_bytes_ref (bytes), g_bytes_unref);
  worker->post ([owner, session, b] {
    auto o = owner.lock ();
    if (o && (*o)->handlers_.message)
      (*o)->handlers_.message (session, nullptr, b.get ());
  });
}

// --- navigation messages ---------------------------------------------------------------

namespace {

constexpr size_t kMaxNavigationMessage = 4096;

struct ModifierName {
  const char *name;
  GstNavigationModifierType mask;
};
constexpr ModifierName kModifiers[] = {
  {"shift", GST_NAVIGATION_MODIFIER_SHIFT_MASK},
  {"control", GST_NAVIGATION_MODIFIER_CONTROL_MASK},
  {"alt", GST_NAVIGATION_MODIFIER_MOD1_MASK},
  {"meta", GST_NAVIGATION_MODIFIER_META_MASK},
};

bool
finite_in_range (double v)
{
  return std::isfinite (v) && std::fabs (v) < 1e7;
}

}  // namespace

std::string
navigation_to_json (GstEvent *event, int width, int height)
{
  nlohmann::json j;
  gdouble x = 0, y = 0, dx = 0, dy = 0;
  gint button = 0;
  const gchar *key = nullptr;
  switch (gst_navigation_event_get_type (event)) {
    case GST_NAVIGATION_EVENT_MOUSE_MOVE:
      if (!gst_navigation_event_parse_mouse_move_event (event, &x, &y))
        return {};
      j = {{"type", "mouse-move"}, {"x", x}, {"y", y}};
      break;
    case GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS:
    case GST_NAVIGATION_EVENT_MOUSE_BUTTON_RELEASE:
      if (!gst_navigation_event_parse_mouse_button_event (event, &button, &x, &y))
        return {};
      j = {{"type", gst_navigation_event_get_type (event) ==
                            GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS
                        ? "mouse-button-press"
                        : "mouse-button-release"},
          {"button", button}, {"x", x}, {"y", y}};
      break;
    case GST_NAVIGATION_EVENT_MOUSE_SCROLL:
      if (!gst_navigation_event_parse_mouse_scroll_event (event, &x, &y, &dx, &dy))
        return {};
      j = {{"type", "mouse-scroll"}, {"x", x}, {"y", y}, {"dx", dx}, {"dy", dy}};
      break;
    case GST_NAVIGATION_EVENT_KEY_PRESS:
    case GST_NAVIGATION_EVENT_KEY_RELEASE:
      if (!gst_navigation_event_parse_key_event (event, &key) || !key)
        return {};
      j = {{"type", gst_navigation_event_get_type (event) == GST_NAVIGATION_EVENT_KEY_PRESS
                        ? "key-press"
                        : "key-release"},
          {"key", key}};
      break;
    default:
      return {};
  }
  GstNavigationModifierType state = GST_NAVIGATION_MODIFIER_NONE;
  if (gst_navigation_event_parse_modifier_state (event, &state)) {
    nlohmann::json mods = nlohmann::json::array ();
    for (const ModifierName &m : kModifiers)
      if (state & m.mask)
        mods.push_back (m.name);
    if (!mods.empty ())
      j["modifiers"] = mods;
  }
  if (width > 0 && height > 0 && j.contains ("x")) {
    j["width"] = width;
    j["height"] = height;
  }
  return j.dump ();
}

GstEvent *
navigation_from_json (const std::string &text, int width, int height, std::string &error)
{
  if (text.size () > kMaxNavigationMessage) {
    error = "navigation message over " + std::to_string (kMaxNavigationMessage) + " bytes";
    return nullptr;
  }
  nlohmann::json j = nlohmann::json::parse (text, nullptr, false);
  if (j.is_discarded () || !j.is_object ()) {
    error = "navigation message is not a JSON object";
    return nullptr;
  }
  auto str = [&] (const char *k) -> std::string {
    auto it = j.find (k);
    return it != j.end () && it->is_string () ? it->get<std::string> () : std::string ();
  };
  auto num = [&] (const char *k, double &out) -> bool {
    auto it = j.find (k);
    if (it == j.end () || !it->is_number ())
      return false;
    out = it->get<double> ();
    return finite_in_range (out);
  };

  int mods = GST_NAVIGATION_MODIFIER_NONE;
  if (auto it = j.find ("modifiers"); it != j.end ()) {
    if (!it->is_array ()) {
      error = "\"modifiers\" must be an array of names";
      return nullptr;
    }
    for (const auto &m : *it)
      for (const ModifierName &known : kModifiers)
        if (m.is_string () && m.get<std::string> () == known.name)
          mods |= known.mask;
  }
  auto state = static_cast<GstNavigationModifierType> (mods);

  const std::string type = str ("type");
  if (type == "key-press" || type == "key-release") {
    std::string key = str ("key");
    if (key.empty () || key.size () > 64) {
      error = type + " needs a \"key\" name of 1 to 64 characters";
      return nullptr;
    }
    return type == "key-press" ? gst_navigation_event_new_key_press (key.c_str (), state)
                               : gst_navigation_event_new_key_release (key.c_str (), state);
  }

  if (type != "mouse-move" && type != "mouse-button-press" && type != "mouse-button-release" &&
      type != "mouse-scroll") {
    error = type.empty () ? std::string ("navigation message without a \"type\"")
                          : "unknown navigation type \"" + type + "\"";
    return nullptr;
  }
  double x, y;
  if (!num ("x", x) || !num ("y", y)) {
    error = type + " needs numeric \"x\" and \"y\"";
    return nullptr;
  }
  double seen_w = 0, seen_h = 0;
  if (num ("width", seen_w) && num ("height", seen_h) && seen_w > 0 && seen_h > 0 &&
      width > 0 && height > 0) {
    x = x * width / seen_w;
    y = y * height / seen_h;
  }
  if (type == "mouse-button-press" || type == "mouse-button-release") {
    double b = 1;
    if (j.contains ("button") && (!num ("button", b) || b < 0 || b > 32)) {
      error = "\"button\" must be a number from 0 to 32";
      return nullptr;
    }
    return type == "mouse-button-press"
        ? gst_navigation_event_new_mouse_button_press ((gint) b, x, y, state)
        : gst_navigation_event_new_mouse_button_release ((gint) b, x, y, state);
  }
  if (type == "mouse-scroll") {
    double dx = 0, dy = 0;
    if ((j.contains ("dx") && !num ("dx", dx)) || (j.contains ("dy") && !num ("dy", dy))) {
      error = "\"dx\" and \"dy\" must be numbers";
      return nullptr;
    }
    return gst_navigation_event_new_mouse_scroll (x, y, dx, dy, state);
  }
  return gst_navigation_event_new_mouse_move (x, y, state);
}

}  // namespace rtcstream
