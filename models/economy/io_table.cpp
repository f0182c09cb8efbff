#include "models/economy/io_table.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace models::economy {
namespace {

[[noreturn]] void refuse(const std::string& what) {
  throw std::invalid_argument("input-output table: " + what);
}

}  // namespace

IoTable IoTable::standard() {
  IoTable t;
  t.sectors = {"food", "housing", "goods", "digital services", "care", "energy"};
  t.A.resize(6, 6);
  // Columns: the buying sector; rows: the selling sector (food, housing, goods, digital, care,
  // energy). Illustrative aggregates: see io_table.hpp.
  // clang-format off
  //      food  housing goods digital care  energy
  t.A << 0.25, 0.00, 0.02, 0.01, 0.03, 0.00,  // food
         0.03, 0.08, 0.02, 0.05, 0.04, 0.02,  // housing
         0.10, 0.15, 0.35, 0.05, 0.08, 0.12,  // goods
         0.02, 0.03, 0.05, 0.18, 0.04, 0.03,  // digital services
         0.00, 0.00, 0.00, 0.00, 0.02, 0.00,  // care
         0.05, 0.04, 0.06, 0.02, 0.03, 0.30;  // energy
  // clang-format on
  // kg of raw material extracted directly per euro of gross output.
  t.intensity.resize(6);
  t.intensity << 0.9, 1.0, 0.03, 0.002, 0.002, 0.35;
  return t;
}

void IoTable::check() const {
  const auto n = static_cast<Eigen::Index>(sectors.size());
  if (n == 0) refuse("no sectors");
  if (A.rows() != A.cols()) {
    std::ostringstream s;
    s << "the coefficient matrix A is not square (" << A.rows() << " x " << A.cols() << ")";
    refuse(s.str());
  }
  if (A.rows() != n) {
    std::ostringstream s;
    s << "A is " << A.rows() << " x " << A.cols() << " but there are " << n << " sectors";
    refuse(s.str());
  }
  if (intensity.size() != n) {
    std::ostringstream s;
    s << "intensity has " << intensity.size() << " entries but there are " << n << " sectors";
    refuse(s.str());
  }
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < n; ++i) {
      if (!std::isfinite(A(i, j)) || A(i, j) < 0.0) {
        std::ostringstream s;
        s << "A(" << sectors[i] << ", " << sectors[j] << ") = " << A(i, j)
          << " must be finite and non-negative";
        refuse(s.str());
      }
    }
    const double column = A.col(j).sum();
    if (!(column < 1.0)) {
      std::ostringstream s;
      s << "not productive: the inputs of sector '" << sectors[j] << "' sum to " << column
        << " per unit of its output (column sums of A must be below 1)";
      refuse(s.str());
    }
    if (!std::isfinite(intensity(j)) || intensity(j) < 0.0) {
      std::ostringstream s;
      s << "intensity of sector '" << sectors[j] << "' = " << intensity(j)
        << " must be finite and non-negative";
      refuse(s.str());
    }
  }
}

Throughput::Throughput(IoTable table) : table_(std::move(table)) {
  table_.check();
  invert();
}

void Throughput::set_coefficients(const Eigen::MatrixXd& A) {
  if (A.rows() == table_.A.rows() && A.cols() == table_.A.cols() && A == table_.A) return;
  IoTable candidate = table_;
  candidate.A = A;
  candidate.check();
  table_ = std::move(candidate);
  invert();
}

void Throughput::invert() {
  const auto n = table_.A.rows();
  // Column sums below 1 make I - A a non-singular M-matrix; LU with partial pivoting suffices.
  inverse_ = (Eigen::MatrixXd::Identity(n, n) - table_.A).partialPivLu().inverse();
  ++inversions_;
}

Eigen::VectorXd Throughput::gross_output(const Eigen::VectorXd& final_demand) const {
  if (final_demand.size() != inverse_.rows()) {
    std::ostringstream s;
    s << "final demand has " << final_demand.size() << " entries but there are " << inverse_.rows()
      << " sectors";
    refuse(s.str());
  }
  return inverse_ * final_demand;
}

Eigen::VectorXd Throughput::material(const Eigen::VectorXd& final_demand, double efficiency) const {
  if (!(efficiency > 0.0) || !std::isfinite(efficiency)) {
    std::ostringstream s;
    s << "material efficiency must be positive and finite, got " << efficiency;
    refuse(s.str());
  }
  return table_.intensity.cwiseProduct(gross_output(final_demand)) / efficiency;
}

}  // namespace models::economy
