#include <catch2/catch.hpp>
#include <stdexcept>

#include "models/economy/io_table.hpp"

using models::economy::IoTable;
using models::economy::Throughput;

namespace {

IoTable two_sectors() {
  IoTable t;
  t.sectors = {"farm", "factory"};
  t.A.resize(2, 2);
  t.A << 0.2, 0.3, 0.4, 0.1;  // rows: farm, factory
  t.intensity.resize(2);
  t.intensity << 2.0, 0.5;
  return t;
}

}  // namespace

TEST_CASE("the standard table has six productive sectors", "[economy][io]") {
  const IoTable t = IoTable::standard();
  REQUIRE(t.sectors.size() == 6u);
  CHECK(t.sectors.front() == "food");
  CHECK(t.sectors.back() == "energy");
  CHECK_NOTHROW(t.check());
  CHECK(t.A.colwise().sum().maxCoeff() < 1.0);
  CHECK(t.A.minCoeff() >= 0.0);
  CHECK(t.intensity.minCoeff() >= 0.0);
}

TEST_CASE("the Leontief inverse times (I - A) is the identity", "[economy][io]") {
  const Throughput t(IoTable::standard());
  const auto& A = t.table().A;
  const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(6, 6);
  CHECK((t.leontief_inverse() * (I - A) - I).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(((I - A) * t.leontief_inverse() - I).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("gross output covers final demand and the inputs it needs", "[economy][io]") {
  const Throughput t(IoTable::standard());
  Eigen::VectorXd y(6);
  y << 120.0, 300.0, 150.0, 60.0, 200.0, 40.0;
  const Eigen::VectorXd x = t.gross_output(y);
  CHECK((x - y).minCoeff() >= 0.0);
  CHECK((x - t.table().A * x - y).cwiseAbs().maxCoeff() < 1e-9);  // x = A x + y
  // Demand for care alone still needs goods and energy upstream.
  Eigen::VectorXd care = Eigen::VectorXd::Zero(6);
  care(4) = 1.0;
  const Eigen::VectorXd xc = t.gross_output(care);
  CHECK(xc(2) > 0.0);
  CHECK(xc(5) > 0.0);
}

TEST_CASE("a two-sector example matches the inverse computed by hand", "[economy][io]") {
  // I - A = [[0.8, -0.3], [-0.4, 0.9]], determinant 0.72 - 0.12 = 0.6,
  // inverse = [[0.9, 0.3], [0.4, 0.8]] / 0.6 = [[1.5, 0.5], [2/3, 4/3]].
  // y = (10, 20): x = (15 + 10, 20/3 + 80/3) = (25, 100/3).
  const Throughput t(two_sectors());
  Eigen::VectorXd y(2);
  y << 10.0, 20.0;
  const Eigen::VectorXd x = t.gross_output(y);
  CHECK(x(0) == Approx(25.0).epsilon(1e-14));
  CHECK(x(1) == Approx(100.0 / 3.0).epsilon(1e-14));
  // Materials: intensity .* x = (50, 50/3); at efficiency 2, half.
  const Eigen::VectorXd m = t.material(y, 2.0);
  CHECK(m(0) == Approx(25.0).epsilon(1e-14));
  CHECK(m(1) == Approx(25.0 / 3.0).epsilon(1e-14));
}

TEST_CASE("material use is linear in demand and inverse in efficiency", "[economy][io]") {
  const Throughput t(IoTable::standard());
  Eigen::VectorXd y1(6), y2(6);
  y1 << 1.0, 2.0, 3.0, 4.0, 5.0, 6.0;
  y2 << 6.0, 0.0, 1.0, 0.5, 2.0, 3.0;
  const Eigen::VectorXd m1 = t.material(y1, 1.0);
  const Eigen::VectorXd m2 = t.material(y2, 1.0);
  CHECK((t.material(2.5 * y1 + y2, 1.0) - (2.5 * m1 + m2)).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((t.material(y1, 4.0) - m1 / 4.0).cwiseAbs().maxCoeff() < 1e-15);
  CHECK((t.material(y1, 0.5) - 2.0 * m1).cwiseAbs().maxCoeff() < 1e-12);
  CHECK_THROWS_WITH(t.material(y1, 0.0), Catch::Contains("efficiency"));
  CHECK_THROWS_WITH(t.gross_output(Eigen::VectorXd::Ones(3)), Catch::Contains("3 entries"));
}

TEST_CASE("the Leontief inverse is recomputed only when A changes", "[economy][io]") {
  Throughput t(IoTable::standard());
  CHECK(t.inversions() == 1u);
  t.set_coefficients(IoTable::standard().A);  // the same A
  CHECK(t.inversions() == 1u);
  Eigen::MatrixXd A = t.table().A;
  Eigen::VectorXd y = Eigen::VectorXd::Ones(6);
  const double before = t.gross_output(y)(5);
  A(5, 5) = 0.2;  // energy uses less energy
  t.set_coefficients(A);
  CHECK(t.inversions() == 2u);
  CHECK(t.gross_output(y)(5) < before);
  t.set_coefficients(A);
  CHECK(t.inversions() == 2u);
}

TEST_CASE("check() refuses bad tables with the problem named", "[economy][io]") {
  SECTION("not productive") {
    IoTable t = two_sectors();
    t.A(1, 0) = 0.8;  // the farm needs 1.0 of inputs per unit of its output
    CHECK_THROWS_WITH(t.check(), Catch::Contains("not productive") && Catch::Contains("farm"));
    CHECK_THROWS_AS(Throughput(t), std::invalid_argument);
    Throughput ok(two_sectors());
    CHECK_THROWS_WITH(ok.set_coefficients(t.A), Catch::Contains("not productive"));
    CHECK(ok.table().A(1, 0) == 0.4);  // unchanged after the refusal
    CHECK(ok.inversions() == 1u);
  }
  SECTION("negative entry") {
    IoTable t = two_sectors();
    t.A(0, 1) = -0.1;
    CHECK_THROWS_WITH(t.check(),
                      Catch::Contains("A(farm, factory)") && Catch::Contains("non-negative"));
  }
  SECTION("not square") {
    IoTable t = two_sectors();
    t.A.resize(2, 3);
    t.A.setZero();
    CHECK_THROWS_WITH(t.check(), Catch::Contains("not square"));
  }
  SECTION("sizes disagree") {
    IoTable t = two_sectors();
    t.intensity.resize(3);
    t.intensity.setZero();
    CHECK_THROWS_WITH(t.check(), Catch::Contains("intensity has 3 entries"));
  }
}
