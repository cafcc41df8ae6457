// Package sphgeom is a Go implementation of the parts of LSST's sphgeom library
// (github.com/lsst/sphgeom) that the butler registry needs: regions on the unit
// sphere (ConvexPolygon, Circle, Box, Ellipse, UnionRegion, IntersectionRegion),
// their binary encoding, spatial relationships between them, and the HTM
// pixelization used for the common skypix system ("htm7").
//
// Encodings are byte-identical to sphgeom's, HTM index numbering is sphgeom's, and
// the relationship and overlap tests follow sphgeom's algorithms (including where
// they are conservative), so that a repository written by either implementation
// gives the same answers in the other.
//
// All angles are in radians unless a name says Deg. Regions are immutable values.
package sphgeom
