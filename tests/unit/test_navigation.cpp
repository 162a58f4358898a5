// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Navigation messages of the "input" data channel: JSON <-> GstNavigation
// events, the scaling of coordinates, and hostile input.
#include <gst/gst.h>
#include <gst/video/navigation.h>
#include <gtest/gtest.h>

#include <string>

#include "rtcstream/datachannel.h"

using rtcstream::navigation_from_json;
using rtcstream::navigation_to_json;

namespace {

struct Event {
  std::string error;  // before ev: filled while ev is initialised
  GstEvent *ev = nullptr;
  Event (const std::string &json, int w = 0, int h = 0)
      : ev (navigation_from_json (json, w, h, error)) {}
  ~Event () { if (ev) gst_event_unref (ev); }
};

TEST (Navigation, MouseButtonScaledToTheInput)
{
  // The viewer saw 640x360; the pipeline's input is 1280x720.
  Event e (R"({"type":"mouse-button-press","button":1,"x":320,"y":90,"width":640,"height":360,
               "modifiers":["shift","control"]})", 1280, 720);
  ASSERT_NE (e.ev, nullptr) << e.error;
  EXPECT_EQ (gst_navigation_event_get_type (e.ev), GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS);
  gint button;
  gdouble x, y;
  ASSERT_TRUE (gst_navigation_event_parse_mouse_button_event (e.ev, &button, &x, &y));
  EXPECT_EQ (button, 1);
  EXPECT_DOUBLE_EQ (x, 640);
  EXPECT_DOUBLE_EQ (y, 180);
  GstNavigationModifierType state;
  ASSERT_TRUE (gst_navigation_event_parse_modifier_state (e.ev, &state));
  EXPECT_TRUE (state & GST_NAVIGATION_MODIFIER_SHIFT_MASK);
  EXPECT_TRUE (state & GST_NAVIGATION_MODIFIER_CONTROL_MASK);
  EXPECT_FALSE (state & GST_NAVIGATION_MODIFIER_MOD1_MASK);
}

TEST (Navigation, UnscaledWhenASizeIsUnknown)
{
  Event no_frame (R"({"type":"mouse-move","x":10.5,"y":20})", 1280, 720);
  Event no_input (R"({"type":"mouse-move","x":10.5,"y":20,"width":100,"height":100})");
  for (Event *e : {&no_frame, &no_input}) {
    ASSERT_NE (e->ev, nullptr) << e->error;
    gdouble x, y;
    ASSERT_TRUE (gst_navigation_event_parse_mouse_move_event (e->ev, &x, &y));
    EXPECT_DOUBLE_EQ (x, 10.5);
    EXPECT_DOUBLE_EQ (y, 20);
  }
}

TEST (Navigation, ScrollAndKeys)
{
  Event scroll (R"({"type":"mouse-scroll","x":1,"y":2,"dx":0,"dy":-1})");
  ASSERT_NE (scroll.ev, nullptr) << scroll.error;
  gdouble x, y, dx, dy;
  ASSERT_TRUE (gst_navigation_event_parse_mouse_scroll_event (scroll.ev, &x, &y, &dx, &dy));
  EXPECT_DOUBLE_EQ (dy, -1);
  Event key (R"({"type":"key-release","key":"Return"})");
  ASSERT_NE (key.ev, nullptr) << key.error;
  const gchar *name = nullptr;
  ASSERT_TRUE (gst_navigation_event_parse_key_event (key.ev, &name));
  EXPECT_STREQ (name, "Return");
  EXPECT_EQ (gst_navigation_event_get_type (key.ev), GST_NAVIGATION_EVENT_KEY_RELEASE);
}

TEST (Navigation, RoundTripThroughJson)
{
  GstEvent *orig = gst_navigation_event_new_mouse_button_release (3, 12.25, 7.5,
      GST_NAVIGATION_MODIFIER_MOD1_MASK);
  std::string json = navigation_to_json (orig, 320, 240);
  gst_event_unref (orig);
  EXPECT_NE (json.find ("\"width\":320"), std::string::npos) << json;
  Event back (json, 640, 480);  // shown twice as large
  ASSERT_NE (back.ev, nullptr) << back.error << " " << json;
  gint button;
  gdouble x, y;
  ASSERT_TRUE (gst_navigation_event_parse_mouse_button_event (back.ev, &button, &x, &y));
  EXPECT_EQ (button, 3);
  EXPECT_DOUBLE_EQ (x, 24.5);
  EXPECT_DOUBLE_EQ (y, 15);
  GstNavigationModifierType state;
  ASSERT_TRUE (gst_navigation_event_parse_modifier_state (back.ev, &state));
  EXPECT_TRUE (state & GST_NAVIGATION_MODIFIER_MOD1_MASK);

  GstEvent *key = gst_navigation_event_new_key_press ("a", GST_NAVIGATION_MODIFIER_NONE);
  EXPECT_EQ (navigation_to_json (key, 0, 0), R"({"key":"a","type":"key-press"})");
  gst_event_unref (key);
  GstEvent *cmd = gst_navigation_event_new_command (GST_NAVIGATION_COMMAND_MENU1);
  EXPECT_EQ (navigation_to_json (cmd, 0, 0), "") << "commands are not carried";
  gst_event_unref (cmd);
}

TEST (Navigation, HostileInputIsRefusedWithAReason)
{
  struct Case {
    std::string json;
    const char *error;
  };
  const Case cases[] = {
    {"not json", "not a JSON object"},
    {"[1,2]", "not a JSON object"},
    {R"({"x":1,"y":2})", "without a \"type\""},
    {R"({"type":"teleport","x":1,"y":2})", "unknown navigation type \"teleport\""},
    {R"({"type":"mouse-move","x":"1","y":2})", "needs numeric \"x\" and \"y\""},
    {R"({"type":"mouse-move","x":1e308,"y":2})", "needs numeric"},
    {R"({"type":"mouse-move","y":2})", "needs numeric"},
    {R"({"type":"mouse-button-press","x":1,"y":2,"button":99})", "\"button\" must be"},
    {R"({"type":"mouse-scroll","x":1,"y":2,"dy":"up"})", "\"dx\" and \"dy\""},
    {R"({"type":"key-press"})", "needs a \"key\""},
    {R"({"type":"key-press","key":")" + std::string (100, 'k') + "\"}", "1 to 64"},
    {R"({"type":"mouse-move","x":1,"y":2,"modifiers":"shift"})", "\"modifiers\" must be"},
    {"{\"type\":\"mouse-move\",\"pad\":\"" + std::string (5000, ' ') + "\"}", "over 4096 bytes"},
  };
  for (const Case &c : cases) {
    Event e (c.json, 100, 100);
    EXPECT_EQ (e.ev, nullptr) << c.json.substr (0, 80);
    EXPECT_NE (e.error.find (c.error), std::string::npos)
        << c.json.substr (0, 80) << " -> " << e.error;
  }
  // A zero frame size does not divide by zero: coordinates stay as sent.
  Event zero (R"({"type":"mouse-move","x":5,"y":6,"width":0,"height":0})", 100, 100);
  ASSERT_NE (zero.ev, nullptr) << zero.error;
}

}  // namespace
