//! tufield application library.
