// SPDX-License-Identifier: LGPL-2.1-or-later
//
// RtcstreamJanusSignaller: publishes into, or subscribes from, a Janus
// VideoRoom through Janus' HTTP REST API (docs/scale-out.md). A producer
// joins the room as a publisher under its display name; a consumer finds the
// publisher with that display name and subscribes to it. All network work
// runs on a thread and GMainContext of its own.
#pragma once

#include "rtcstream/signallers/base-signaller.h"

G_BEGIN_DECLS

#define RTCSTREAM_TYPE_JANUS_SIGNALLER (rtcstream_janus_signaller_get_type ())
G_DECLARE_FINAL_TYPE (RtcstreamJanusSignaller, rtcstream_janus_signaller, RTCSTREAM,
    JANUS_SIGNALLER, RtcstreamBaseSignaller)

/* True when uri has a janus+ scheme (janus+http:// or janus+https://). */
gboolean rtcstream_janus_uri_is_janus (const gchar *uri);

/* Checks a
 *   janus+http://HOST:PORT/janus?room=ROOM&display=NAME[&pin=PIN][&token=T][&apisecret=S]
 * URI (janus+https:// for TLS). Returns FALSE and sets error (a sentence) when
 * it is unusable; *display (optional) receives the display name. */
gboolean rtcstream_janus_uri_parse (const gchar *uri, gchar **display, GError **error);

/* Makes a signaller from such a URI, or returns NULL and sets error. */
RtcstreamJanusSignaller *rtcstream_janus_signaller_new_from_uri (const gchar *uri,
    GError **error);

G_END_DECLS
